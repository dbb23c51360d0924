"""The generated project's day-to-day kit works as its README says: make, pre-commit, .env.

Real tools on real renders: `pre-commit run --all-files` with the project's own
configuration (local hooks: the linters installed here, nothing fetched) passes on a fresh
render of each framework and fails, naming the hook, on a lint error, a stale .env.example
or requirements that are not the lock's exports; every Makefile target is listed by `make`
and expands with `make -n`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness import options
from harness.render import render

FRAMEWORKS = options.CHOICES["framework"]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A render of the framework (with Kubernetes, so its shell script is checked too), in git."""
    variant = {**options.default_variant(), "framework": request.param, "kubernetes": "kustomize"}
    path = render(variant, tmp_path_factory.mktemp(request.param))
    for args in (["init", "-q"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=path, check=True)
    return path


def run(project: Path, *cmd: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``cmd`` in the project, with this interpreter's tools first on PATH and src/ importable."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(project / "src"),
        "PRE_COMMIT_HOME": str(tmp / "pre-commit-home"),
    }
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_pre_commit_passes_on_a_fresh_render(project: Path, tmp_path: Path) -> None:
    proc = run(project, "pre-commit", "run", "--all-files", tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for hook in (
        "ruff check",
        "ruff format",
        "hadolint",
        "yamllint",
        "shellcheck",
        ".env.example",
        "requirements/*.txt are uv.lock's exports",
    ):
        assert re.search(rf"^{re.escape(hook)}.*Passed$", proc.stdout, re.M), f"{hook} did not run:\n{proc.stdout}"


@pytest.mark.parametrize(
    ("path", "text", "hook"),
    [
        ("src/{pkg}/cli.py", "\nimport os\n", "ruff check"),
        ("Dockerfile", "\nRUN cd /tmp\n", "hadolint"),
        ("compose.yaml", "\nbroken:   [\n", "yamllint"),
        (".env.example", "# EPOCHS=1\n", ".env.example"),
        ("requirements/serve.txt", "six==1.16.0\n", "requirements/*.txt are uv.lock's exports"),
    ],
)
def test_pre_commit_fails_naming_the_hook(project: Path, tmp_path: Path, path: str, text: str, hook: str) -> None:
    target = project / path.format(pkg=project.name.replace("-", "_"))
    original = target.read_text(encoding="utf-8")
    try:
        target.write_text(original + text, encoding="utf-8")
        proc = run(project, "pre-commit", "run", "--all-files", tmp=tmp_path)
    finally:
        target.write_text(original, encoding="utf-8")
    assert proc.returncode != 0, proc.stdout
    assert re.search(rf"^{re.escape(hook)}.*Failed$", proc.stdout, re.M), proc.stdout


def test_every_make_target_is_listed_and_expands(project: Path, tmp_path: Path) -> None:
    makefile = (project / "Makefile").read_text(encoding="utf-8")
    [phony] = re.findall(r"^\.PHONY: (.+)$", makefile, re.M)
    targets = phony.split()
    listed = run(project, "make", tmp=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [line.split()[0] for line in listed.stdout.splitlines()] == targets
    for target in ("train", "serve", "test", "lint", "up", "down"):
        assert target in targets, f"the Makefile has no {target} target"
    for target in targets:
        proc = run(project, "make", "-n", target, tmp=tmp_path)
        assert proc.returncode == 0, f"make -n {target}: {proc.stderr}"
    assert "down --volumes" in run(project, "make", "-n", "down", tmp=tmp_path).stdout
