"""tools.prewarm: a tool started ahead of time answers exactly as one started on demand."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import manifests, tools
from harness.checks import Unit

ROOT = Path(__file__).resolve().parent.parent.parent
BROKEN = ROOT / "tests" / "fixtures" / "broken"


@pytest.fixture
def broken_overlay(tmp_path: Path) -> Unit:
    project = tmp_path / "project"
    shutil.copytree(BROKEN, project)
    return Unit(project / "k8s" / "overlays" / "dev", project)


def test_a_prewarmed_checkov_reports_what_a_cold_one_reports(broken_overlay: Unit) -> None:
    """The fixture's overlay breaks checkov's policies: the same findings either way."""
    cold = manifests.policy([broken_overlay])
    manifests.prewarm_policy()
    assert len(tools._warm) == 1, "checkov was not prewarmed"
    warm = manifests.policy([broken_overlay])
    assert tools._warm == {}, "the prewarmed process was not used"
    assert any("checkov" in failure for failure in cold), cold
    assert warm == cold


@pytest.fixture
def echo_args(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A Python script on PATH that prints its arguments, writes to stderr and exits with
    the number of arguments; and the environment that finds it."""
    script = tmp_path / "bin" / "echo-args"
    script.parent.mkdir()
    script.write_text(
        f"#!{sys.executable}\n"
        "import json\n"
        "import sys\n"
        "print(json.dumps(sys.argv[1:]))\n"
        "print('to stderr', file=sys.stderr)\n"
        "sys.exit(len(sys.argv) - 1)\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script, {"PATH": f"{script.parent}:/usr/bin:/bin"}


def test_a_prewarmed_tool_runs_with_the_arguments_it_is_given_later(echo_args: tuple[Path, dict[str, str]]) -> None:
    """argv, exit code and both output streams reach the caller."""
    script, env = echo_args
    tools.prewarm("echo-args", env=env)
    assert len(tools._warm) == 1
    result = tools.run([str(script), "a b", "--flag"], env=env)
    assert (result.returncode, result.stdout, result.stderr) == (2, '["a b", "--flag"]\n', "to stderr\n")
    assert tools._warm == {}


def test_a_run_with_another_environment_starts_its_own_process(echo_args: tuple[Path, dict[str, str]]) -> None:
    script, env = echo_args
    tools.prewarm("echo-args", env=env)
    try:
        result = tools.run([str(script), "x"], env={**env, "OTHER": "1"})
        assert (result.returncode, result.stdout) == (1, '["x"]\n')
        assert len(tools._warm) == 1, "a run with a different environment took the prewarmed process"
    finally:
        tools._stop_unused()
    assert tools._warm == {}


def test_a_tool_that_is_not_a_python_script_is_not_prewarmed() -> None:
    tools.prewarm("ruff")  # a compiled binary
    tools.prewarm("no-such-tool-anywhere")
    assert tools._warm == {}


def test_an_unused_prewarmed_process_ends_with_the_caller() -> None:
    code = (
        "from harness import manifests, tools; manifests.prewarm_policy(); print(next(iter(tools._warm.values())).pid)"
    )
    caller = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    pid = int(caller.stdout)
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().split()[2] == "Z", "the prewarmed checkov outlived its caller"
