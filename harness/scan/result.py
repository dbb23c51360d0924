"""The outcome of one check on one variant, and the summary table over all of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PASS = "pass"
FAIL = "fail"
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Outcome:
    """One check's verdict: ``status`` is pass, fail or unavailable (never a pass not earned)."""

    check: str
    status: str
    findings: int = 0
    detail: str = ""

    def cell(self) -> str:
        return f"{self.status} ({self.findings})" if self.findings else self.status


def sarif_result_count(path: Path) -> int:
    """The number of results in a SARIF file (0 when it holds no run)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return sum(len(run.get("results") or []) for run in data.get("runs", []))


def summary_table(rows: dict[str, Sequence[Outcome]]) -> str:
    """variant x check: status and, in parentheses, the number of findings."""
    checks: list[str] = []
    for outcomes in rows.values():
        checks.extend(o.check for o in outcomes if o.check not in checks)
    width = max([len(v) for v in rows] + [7])
    cells = {v: {o.check: o.cell() for o in outcomes} for v, outcomes in rows.items()}
    widths = [max([len(c)] + [len(cells[v].get(c, "-")) for v in rows]) for c in checks]
    lines = ["  ".join([f"{'variant':<{width}}", *(f"{c:<{w}}" for c, w in zip(checks, widths, strict=True))])]
    lines.append("-" * len(lines[0]))
    for v in rows:
        lines.append(
            "  ".join([f"{v:<{width}}", *(f"{cells[v].get(c, '-'):<{w}}" for c, w in zip(checks, widths, strict=True))])
        )
    return "\n".join(lines)


def details(rows: dict[str, Sequence[Outcome]]) -> str:
    """Every non-pass outcome with what it found, for the log under the table."""
    out = []
    for v, outcomes in rows.items():
        for o in outcomes:
            if o.status != PASS and o.detail:
                out.append(f"[{o.status.upper()}] {v} / {o.check}:\n  " + o.detail.strip().replace("\n", "\n  "))
    return "\n".join(out)
