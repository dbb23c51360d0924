"""Run a scanner and read its report: the small helpers every check module shares."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from ..errors import HarnessError
from ..tools import run
from ..tools import which as tool

__all__ = ["ScanError", "load_json", "run", "tail", "tool", "trivy_convert"]


class ScanError(HarnessError):
    """A scanner could not run (not a finding): the message has its command and output."""


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
