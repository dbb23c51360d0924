"""The README's set-up commands stay true: CI runs exactly the test command it shows."""

from __future__ import annotations

import re

from harness import options

README = (options.ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (options.ROOT / ".ci" / "run").read_text(encoding="utf-8")


def setup_commands() -> list[str]:
    section = README.split("## Set up a new machine", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", section)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = setup_commands()
    assert len(commands) == 2, commands
    assert "nox -s demo" in commands[0]


def test_ci_runs_the_readme_test_command() -> None:
    match = re.search(r"^TEST_COMMAND='(.+)'$", CI_RUN, re.MULTILINE)
    assert match, ".ci/run must define TEST_COMMAND"
    assert match.group(1) == setup_commands()[1]


def test_every_nox_session_in_the_readme_exists() -> None:
    noxfile = (options.ROOT / "noxfile.py").read_text(encoding="utf-8")
    defined = set(re.findall(r"^def (\w+)\(session", noxfile, re.MULTILINE))
    used = {name for cmd in re.findall(r"nox -s ([\w ]+)", README) for name in cmd.split()}
    assert used <= defined, f"README names sessions that do not exist: {sorted(used - defined)}"
