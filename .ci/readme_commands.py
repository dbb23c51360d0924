"""Print the README's set-up commands: `main` (the main job) or `test` (the test command).

They are the two ```bash blocks of the section "## Set up a new machine", in that order.
`.ci/run` runs them from here, so CI runs exactly what the README tells a newcomer to run.
"""

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def commands() -> dict[str, str]:
    section = README.read_text(encoding="utf-8").split("## Set up a new machine", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.+?)\n```", section, re.DOTALL)
    if len(blocks) != 2:
        sys.exit(f"{README}: expected 2 bash blocks under '## Set up a new machine', found {len(blocks)}")
    return dict(zip(("main", "test"), blocks, strict=True))


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("main", "test"):
        sys.exit("usage: python3 .ci/readme_commands.py main|test")
    print(commands()[sys.argv[1]])
