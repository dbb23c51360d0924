"""The benchmark report's arithmetic on figures measured on the 2-CPU dev machine (2026-11-25).

No Docker: figures are built from recorded samples, then summarized, checked against their
targets and rendered; the numbers are real ones from `python -m harness.bench`.
"""

from __future__ import annotations

import json

import pytest

from harness.bench.report import Figure, Target, evaluate, fmt, misses, render_markdown, rows, write_outputs

VID = "py3.11-sklearn-cpu-single-nok8s-gha"
MB = 1e6


def figures() -> dict[str, Figure]:
    serve = Figure(
        f"size.{VID}.serve.ours",
        "serve image",
        "bytes",
        [320.0 * MB],
        [
            Target("<=", 0.35, f"size.{VID}.serve.naive", "naive"),
            Target("<=", 1.15, f"size.{VID}.serve.floor", "floor"),
        ],
        group="Image size and build time",
    )
    naive = Figure(f"size.{VID}.serve.naive", "serve image, naive", "bytes", [342.0 * MB])
    floor = Figure(f"size.{VID}.serve.floor", "serve image, floor", "bytes", [341.0 * MB])
    edit = Figure(
        f"build.{VID}.serve.edit.ours",
        "serve rebuild after an edit",
        "s",
        [3.20, 3.05, 3.61],
        [Target("<=", 0.05, f"build.{VID}.serve.edit.naive", "naive")],
    )
    edit_naive = Figure(f"build.{VID}.serve.edit.naive", "naive rebuild", "s", [10.6, 11.9, 10.2])
    p99 = Figure("http.p99", "predict p99, c=16", "ms", [38.2, 41.7, 55.0], [Target("<=", 50.0)])
    r1 = Figure("compose.r1.rps", "1 replica", "rps", [212.0, 205.0, 220.0])
    r2 = Figure("compose.r2.rps", "2 replicas", "rps", [301.0, 330.0, 296.0], [Target(">=", 1.6, "compose.r1.rps")])
    lost = Figure("lost", "target with a missing reference", "s", [1.0], [Target("<=", 1.0, "nowhere")])
    return {f.key: f for f in (serve, naive, floor, edit, edit_naive, p99, r1, r2, lost)}


def test_summary_is_median_min_max():
    f = figures()[f"build.{VID}.serve.edit.ours"]
    assert (f.median, f.min, f.max) == (3.20, 3.05, 3.61)
    assert Figure("even", "even", "s", [1.0, 2.0, 4.0, 10.0]).median == 3.0
    assert Figure("none", "none", "s").median is None


def test_relative_targets_use_the_ratio_of_medians():
    fs = figures()
    serve = fs[f"size.{VID}.serve.ours"]
    vs_naive = evaluate(serve, serve.targets[0], fs)
    assert vs_naive.achieved == pytest.approx(320 / 342)
    assert vs_naive.ratio_to_target == pytest.approx(320 / 342 / 0.35)
    assert vs_naive.status == "MISS"
    vs_floor = evaluate(serve, serve.targets[1], fs)
    assert vs_floor.achieved == pytest.approx(320 / 341)
    assert vs_floor.status == "pass"
    edit = fs[f"build.{VID}.serve.edit.ours"]
    assert evaluate(edit, edit.targets[0], fs).achieved == pytest.approx(3.20 / 10.6)


def test_absolute_and_at_least_targets():
    fs = figures()
    p99 = evaluate(fs["http.p99"], fs["http.p99"].targets[0], fs)
    assert p99.achieved == 41.7 and p99.passed
    scale = evaluate(fs["compose.r2.rps"], fs["compose.r2.rps"].targets[0], fs)
    assert scale.achieved == pytest.approx(301 / 212)
    assert scale.status == "MISS"  # 1.42x < 1.6x
    assert evaluate(fs["lost"], fs["lost"].targets[0], fs).status == "n/a"


def test_misses_list_every_failed_target_once():
    found = {(f.key, t.ref) for f, t, _ in misses(list(figures().values()))}
    assert found == {
        (f"size.{VID}.serve.ours", f"size.{VID}.serve.naive"),
        (f"build.{VID}.serve.edit.ours", f"build.{VID}.serve.edit.naive"),
        ("compose.r2.rps", "compose.r1.rps"),
    }


def test_formatting():
    assert fmt(320.0 * MB, "bytes") == "320 MB"
    assert fmt(1.42e9, "bytes") == "1.42 GB"
    assert fmt(3.2, "s") == "3.20 s"
    assert fmt(47.3, "s") == "47.3 s"
    assert fmt(754.0, "s") == "12.6 min"
    assert fmt(1234.4, "rps") == "1,234 req/s"
    assert fmt(0.936, "ratio") == "0.94x"
    assert fmt(0.9722, "fraction") == "97.2%"
    assert fmt(None, "s") == "—"


def test_rows_one_per_target_and_markdown(tmp_path):
    fs = list(figures().values())
    table = list(rows(fs))
    assert len(table) == sum(max(1, len(f.targets)) for f in fs)
    serve_rows = [r for r in table if r[0] == "serve image"]
    assert [r[6] for r in serve_rows] == ["MISS", "pass"]
    assert serve_rows[0][5] == "0.94x (2.67)"
    bench = {
        "meta": {"date": "2026-11-25", "machine": {"cpus": "2"}, "variants": [VID], "notes": ["noisy"]},
        "figures": [f.to_dict() for f in fs],
    }
    text = render_markdown(json.loads(json.dumps(bench)))  # survives the JSON round trip
    assert "| serve image | 320 MB | 320 MB - 320 MB | 1 | ≤ 0.35x naive | 0.94x (2.67) | MISS |" in text
    assert "- 2 replicas: 1.42x vs target ≥ 1.6x compose.r1.rps" in text
    assert "## Method and caveats" in text


def test_write_outputs(tmp_path):
    bench = {"meta": {"date": "2026-11-25", "variants": [VID]}, "figures": [f.to_dict() for f in figures().values()]}
    paths = write_outputs(bench, tmp_path / "out", tmp_path / "docs")
    assert json.loads(paths["json"].read_text())["figures"][0]["median"] == 320.0 * MB
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "docs" / "report.md").read_text() == paths["md"].read_text()
