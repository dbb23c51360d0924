"""Known vulnerabilities in a lock file with pip-audit, honest about unreachable advisory data.

pip-audit prints "No known vulnerabilities found" even when it could look nothing up (a
dependency it cannot find on the advisory service is *skipped*). ``--strict`` turns
skips into an error but then writes no report, so this module runs without it, reads
the JSON report, and applies the strict rule itself: any skipped dependency, or an
advisory service that cannot be reached, makes the result UNAVAILABLE, never PASS.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .result import FAIL, PASS, UNAVAILABLE, Outcome
from .tools import run, tail, tool

UNREACHABLE = re.compile(
    r"ConnectionError|NameResolutionError|Max retries exceeded|timed out|Temporary failure in name resolution"
    r"|Network is unreachable|SSLError|ProxyError|HTTPError: 5\d\d|ServiceError"
)


def pip_audit(requirements: Path, out: Path) -> Outcome:
    """Audit a fully pinned requirements file (``--no-deps --disable-pip``)."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / f"pip-audit-{requirements.stem}.json"
    report.unlink(missing_ok=True)
    proc = run(
        [
            tool("pip-audit"),
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "-r",
            str(requirements),
            "-f",
            "json",
            "-o",
            str(report),
        ],
        timeout=600,
    )
    name = f"pip-audit {requirements.name}"
    if not report.is_file():
        output = (proc.stdout or "") + (proc.stderr or "")
        if UNREACHABLE.search(output):
            return Outcome("pip-audit", UNAVAILABLE, 0, f"{name}: advisory service unreachable: {tail(proc, 3)}")
        return Outcome("pip-audit", FAIL, 0, f"{name}: pip-audit failed (exit {proc.returncode}):\n{tail(proc)}")
    deps = json.loads(report.read_text(encoding="utf-8")).get("dependencies") or []
    vulns = [f"{d['name']} {d.get('version')}: {v.get('id')}" for d in deps for v in d.get("vulns") or []]
    skipped = [d for d in deps if d.get("skip_reason")]
    if vulns:
        return Outcome("pip-audit", FAIL, len(vulns), f"{name}:\n" + "\n".join(vulns))
    if skipped or not deps:
        reason = skipped[0]["skip_reason"] if skipped else "no dependency audited"
        return Outcome(
            "pip-audit",
            UNAVAILABLE,
            0,
            f"{name}: {len(skipped)} of {len(deps)} dependencies could not be audited "
            f"(advisory data unreachable?), e.g. {reason}",
        )
    if proc.returncode != 0:
        return Outcome("pip-audit", FAIL, 0, f"{name}: exit {proc.returncode}:\n{tail(proc)}")
    return Outcome("pip-audit", PASS, 0, f"{name}: {len(deps)} dependencies audited")
