"""The README's set-up commands stay true: CI runs exactly what the README shows.

`.ci/run` reads both commands out of README.md (`.ci/readme_commands.py`), so there is no
copy to keep in step; these tests pin the shape that reading relies on.
"""

from __future__ import annotations

import re
import subprocess
import sys

from harness import options

README = (options.ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (options.ROOT / ".ci" / "run").read_text(encoding="utf-8")


def readme_command(which: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(options.ROOT / ".ci" / "readme_commands.py"), which],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_main_job_and_the_test_command_are_read_from_the_readme() -> None:
    assert readme_command("main").endswith("nox -s demo")
    assert "nox -s lint unit" in readme_command("test")


def test_ci_runs_both_readme_commands_main_job_first_and_the_test_command_last() -> None:
    assert re.search(r"^for which in main test; do$", CI_RUN, re.MULTILINE)
    assert 'bash -c "$command"' in CI_RUN
    assert not re.search(r"-m nox|nox -s", CI_RUN), ".ci/run must not carry its own copy of a command"


def test_every_nox_session_in_the_readme_exists() -> None:
    noxfile = (options.ROOT / "noxfile.py").read_text(encoding="utf-8")
    defined = set(re.findall(r"^def (\w+)\(session", noxfile, re.MULTILINE))
    used = {name for cmd in re.findall(r"nox -s ([\w ]+)", README) for name in cmd.split()}
    assert used <= defined, f"README names sessions that do not exist: {sorted(used - defined)}"
