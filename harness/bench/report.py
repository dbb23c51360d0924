"""Figures, targets and the report: bench.json -> report.md (table) and bench.png (chart).

A figure is a list of samples (one per run) summarized by median, min and max. A target
is either absolute (``p99 <= 0.050 s``) or relative to another figure's median
(``serve image <= 0.35 x naive``); targets are reported, never asserted.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OPS = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b}


@dataclass(frozen=True)
class Target:
    """``op value`` of the figure itself, or of its ratio to figure ``ref`` when given."""

    op: str
    value: float
    ref: str | None = None
    ref_label: str | None = None

    def text(self, unit: str) -> str:
        sign = "≤" if self.op == "<=" else "≥"
        if self.ref:
            return f"{sign} {self.value:g}x {self.ref_label or self.ref}"
        return f"{sign} {fmt(self.value, unit)}"


@dataclass
class Figure:
    key: str
    label: str
    unit: str  # bytes, s, ms, rps, ratio, fraction
    samples: list[float] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    note: str = ""
    group: str = ""

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    @property
    def min(self) -> float | None:
        return min(self.samples) if self.samples else None

    @property
    def max(self) -> float | None:
        return max(self.samples) if self.samples else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(median=self.median, min=self.min, max=self.max, n=len(self.samples))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Figure:
        targets = [Target(**t) for t in data.get("targets", [])]
        return cls(
            data["key"],
            data["label"],
            data["unit"],
            list(data.get("samples", [])),
            targets,
            data.get("note", ""),
            data.get("group", ""),
        )


@dataclass(frozen=True)
class Verdict:
    """A target checked: the achieved value (ratio for relative targets), achieved/target, pass."""

    achieved: float | None
    ratio_to_target: float | None
    passed: bool | None

    @property
    def status(self) -> str:
        return "n/a" if self.passed is None else ("pass" if self.passed else "MISS")


def evaluate(figure: Figure, target: Target, figures: Mapping[str, Figure]) -> Verdict:
    """Check ``target`` on the figure's median; n/a when a median is missing."""
    value = figure.median
    if value is None:
        return Verdict(None, None, None)
    if target.ref is not None:
        ref = figures.get(target.ref)
        if ref is None or not ref.median:
            return Verdict(None, None, None)
        value = value / ref.median
    ratio = value / target.value if target.value else None
    return Verdict(value, ratio, OPS[target.op](value, target.value))


def fmt(value: float | None, unit: str) -> str:
    """A value in its unit, human readable: 412 MB, 1.8 s, 12.3 ms, 950 req/s, 0.29x."""
    if value is None:
        return "—"
    if unit == "bytes":
        return f"{value / 1e9:.2f} GB" if value >= 1e9 else f"{value / 1e6:.0f} MB"
    if unit == "s":
        if value >= 600:
            return f"{value / 60:.1f} min"
        return f"{value:.0f} s" if value >= 100 else (f"{value:.1f} s" if value >= 10 else f"{value:.2f} s")
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "rps":
        return f"{value:,.0f} req/s"
    if unit == "ratio":
        return f"{value:.2f}x"
    if unit == "fraction":
        return f"{value:.1%}"
    return f"{value:g}"


def rows(figures: Sequence[Figure], context: Sequence[Figure] = ()) -> Iterable[list[str]]:
    """Table rows: one per (figure, target), one per figure without a target. Targets may
    refer to any figure of ``figures`` or ``context`` (e.g. another table's)."""
    by_key = {f.key: f for f in [*context, *figures]}
    for figure in figures:
        spread = f"{fmt(figure.min, figure.unit)} - {fmt(figure.max, figure.unit)}" if figure.samples else "—"
        base = [figure.label, fmt(figure.median, figure.unit), spread, str(len(figure.samples))]
        if not figure.targets:
            yield [*base, "—", "—", "—", figure.note]
        for target in figure.targets:
            verdict = evaluate(figure, target, by_key)
            achieved = verdict.achieved
            shown = fmt(achieved, "ratio") if target.ref else fmt(achieved, figure.unit)
            ratio = "—" if verdict.ratio_to_target is None else f"{verdict.ratio_to_target:.2f}"
            yield [*base, target.text(figure.unit), f"{shown} ({ratio})", verdict.status, figure.note]


HEADER = ["Figure", "Median", "Min - max", "Runs", "Target", "Achieved (÷ target)", "Result", "Notes"]


def markdown_table(figures: Sequence[Figure], context: Sequence[Figure] = ()) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    for row in rows(figures, context):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def misses(figures: Sequence[Figure]) -> list[tuple[Figure, Target, Verdict]]:
    by_key = {f.key: f for f in figures}
    found = []
    for figure in figures:
        for target in figure.targets:
            verdict = evaluate(figure, target, by_key)
            if verdict.passed is False:
                found.append((figure, target, verdict))
    return found


def render_markdown(bench: Mapping[str, Any]) -> str:
    figures = [Figure.from_dict(f) for f in bench["figures"]]
    meta = bench.get("meta", {})
    by_group: dict[str, list[Figure]] = {}
    for figure in figures:
        by_group.setdefault(figure.group or "other", []).append(figure)
    out = [f"# Benchmarks ({meta.get('date', '?')})", ""]
    machine = meta.get("machine", {})
    if machine:
        out.append(
            "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + ". "
            "Other jobs shared the machine and the Docker daemon: figures are noisy; medians of the runs shown."
        )
    if meta.get("variants"):
        out.append("Variants: " + ", ".join(f"`{v}`" for v in meta["variants"]) + ".")
    if meta.get("command"):
        out.append(f"Command: `{meta['command']}`.")
    out.append("")
    for group, members in by_group.items():
        out += [f"## {group}", "", markdown_table(members, figures), ""]
    missed = misses(figures)
    out += ["## Targets missed", ""]
    if missed:
        for figure, target, verdict in missed:
            achieved = fmt(verdict.achieved, "ratio" if target.ref else figure.unit)
            out.append(f"- {figure.label}: {achieved} vs target {target.text(figure.unit)}")
    else:
        out.append("None.")
    if meta.get("notes"):
        out += ["", "## Method and caveats", ""] + [f"- {note}" for note in meta["notes"]]
    out += ["", "![benchmarks](bench.png)", ""]
    return "\n".join(out)


def plot(bench: Mapping[str, Any], path: Path) -> Path | None:
    """Sizes (ours / naive / floor), predict vs no-op throughput, build and rebuild times,
    ours against the serving frameworks (peers) on the same model."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figures = {f["key"]: Figure.from_dict(f) for f in bench["figures"]}

    def med(key: str) -> float:
        figure = figures.get(key)
        return (figure.median or 0.0) if figure else 0.0

    variants = bench.get("meta", {}).get("variants", [])
    by_target = [(v, t) for v in variants for t in ("serve", "train")]
    panels = [
        (
            "Image size (MB)",
            [("ours", "size.{v}.{t}.ours"), ("naive", "size.{v}.{t}.naive"), ("floor", "size.{v}.{t}.floor")],
            by_target,
            1e-6,
            False,
        ),
        (
            "Throughput, concurrency 16 (req/s)",
            [("predict", "http.{v}.predict.c16.rps"), ("no-op", "http.{v}.noop.c16.rps")],
            [(v, "") for v in variants],
            1.0,
            False,
        ),
        (
            "Cold build, serve (s)",
            [("ours", "build.{v}.serve.cold.ours"), ("naive", "build.{v}.serve.cold.naive")],
            [(v, "") for v in variants],
            1.0,
            False,
        ),
        (
            "Rebuild after a one-line edit (s, log scale)",
            [("ours", "build.{v}.{t}.edit.ours"), ("naive", "build.{v}.{t}.edit.naive")],
            by_target,
            1.0,
            True,
        ),
        (
            "Same model.onnx, concurrency 16 (req/s)",
            [
                ("ours /v1", "http.{v}.predict.c16.rps"),
                ("BentoML", "peer.{v}.bentoml.c16.rps"),
                ("LitServe", "peer.{v}.litserve.c16.rps"),
                ("ours /v2", "peer.{v}.ours-v2.c16.rps"),
                ("KServe", "peer.{v}.kserve.c16.rps"),
            ],
            [(v, "") for v in variants],
            1.0,
            False,
        ),
    ]
    # Only the panels the run measured (a run of some groups leaves the others empty).
    panels = [p for p in panels if any(med(pattern.format(v=v, t=t)) for _, pattern in p[1] for v, t in p[2])]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(5.4 * len(panels) + 0.5, 5.4), squeeze=False)
    for ax, (title, series, groups, scale, log) in zip(axes[0], panels, strict=True):
        width = 0.8 / len(series)
        positive = False
        for i, (name, pattern) in enumerate(series):
            values = [med(pattern.format(v=v, t=t)) * scale for v, t in groups]
            xs = [g + i * width for g in range(len(groups))]
            positive = positive or any(x > 0 for x in values)
            bars = ax.bar(xs, values, width, label=name)
            ax.bar_label(bars, labels=[f"{x:.3g}" if x else "" for x in values], fontsize=7)
        if log and positive:
            ax.set_yscale("log")
        ax.set_xticks([g + width * (len(series) - 1) / 2 for g in range(len(groups))])
        ax.set_xticklabels([_short(v) + (f"\n{t}" if t else "") for v, t in groups], fontsize=7)
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.suptitle(f"ml-container-template benchmarks, {bench.get('meta', {}).get('date', '')} (medians)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _short(vid: str) -> str:
    parts = vid.split("-")
    return "-".join(parts[1:4]) if len(parts) > 3 else vid


def write_outputs(bench: Mapping[str, Any], out_dir: Path, docs_dir: Path | None = None) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "bench.json", "md": out_dir / "report.md", "png": out_dir / "bench.png"}
    paths["json"].write_text(json.dumps(bench, indent=2) + "\n")
    paths["md"].write_text(render_markdown(bench))
    plot(bench, paths["png"])
    if docs_dir is not None:
        docs_dir.mkdir(parents=True, exist_ok=True)
        for key in ("md", "png"):
            if paths[key].is_file():
                (docs_dir / paths[key].name).write_bytes(paths[key].read_bytes())
    return paths
