"""The template stays cruft-compatible: create from a git copy, then update across commits."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import options

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
SKIP_COPY = {".git", ".nox", "out", ".pytest_cache", "__pycache__", ".ruff_cache"}


def run(*cmd: str, cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **GIT_ENV})
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def commit_all(repo: Path, message: str) -> None:
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-q", "-m", message, cwd=repo)


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "template"
    shutil.copytree(options.ROOT, repo, ignore=lambda d, names: [n for n in names if n in SKIP_COPY])
    run("git", "init", "-q", "-b", "main", cwd=repo)
    commit_all(repo, "template v1")
    return repo


def test_cruft_create_then_update_applies_cleanly(template_repo: Path, tmp_path: Path) -> None:
    if shutil.which("cruft") is None:
        pytest.fail("cruft is not installed: `pip install cruft` (nox -s unit installs it)")
    out = tmp_path / "out"
    run("cruft", "create", "--no-input", "--output-dir", str(out), str(template_repo), cwd=tmp_path)
    project = out / "digits-classifier"
    assert (project / ".cruft.json").is_file()
    run("git", "init", "-q", "-b", "main", cwd=project)
    commit_all(project, "generated")

    readme = template_repo / "{{cookiecutter.project_slug}}" / "README.md"
    readme.write_text(readme.read_text() + "\nA line added by template v2.\n")
    commit_all(template_repo, "template v2")

    run("cruft", "update", "--skip-apply-ask", "--allow-untracked-files", cwd=project)
    assert "A line added by template v2." in (project / "README.md").read_text()
    assert not list(project.rglob("*.rej"))
    run("cruft", "check", cwd=project)
