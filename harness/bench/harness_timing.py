"""The harness itself: lint wall time (all variants, one, the marginal cost) and the demo,
warm and cold."""

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from .. import options, smoke
from ..engine import Engine
from ..sandbox import Sandbox
from .core import ROOT, Bench, Variant
from .report import Target


def lint(bench: Bench, runs: int) -> None:
    """`python -m harness lint` wall time over all valid variants, and over one (slope)."""
    group = "Harness"
    n_all = len(options.valid_variants())
    for _ in range(runs):
        t_all, left_out = _lint([])
        t_one, left_out_one = _lint(["default"])
        for check in sorted(set(left_out + left_out_one)):
            bench.note(f"lint timings leave out the check `{check}`: its tool is not installed in this environment")
        bench.add(
            "lint.all.seconds",
            t_all,
            f"lint, all {n_all} valid variants",
            "s",
            group,
            [Target("<=", 30.0)],
            note="python -m harness lint, wall time",
        )
        bench.add("lint.one.seconds", t_one, "lint, 1 variant", "s", group)
        bench.add(
            "lint.per_variant.seconds",
            (t_all - t_one) / (n_all - 1),
            "lint, marginal cost of one variant",
            "s",
            group,
            [Target("<=", 0.5)],
            note=f"(T{n_all} - T1) / {n_all - 1}",
        )
        bench.save()


def _lint(specs: list[str]) -> tuple[float, list[str]]:
    # The linters are console scripts next to this interpreter (nox puts them on PATH).
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "lint", *specs],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    seconds = time.monotonic() - start
    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    missing = [line for line in fails if "is not installed" in line]
    # A failing check would time a different job; a check whose tool belongs to another
    # session (e.g. trivy, installed by `nox -s scan`) is reported as left out instead.
    if proc.returncode != 0 and (not fails or len(missing) != len(fails)):
        raise RuntimeError(f"harness lint failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
    return seconds, [line.removeprefix("FAIL ").split(":")[0] for line in missing]


# ---------------------------------------------------------------------------------------
def demo_warm(bench: Bench, runs: int) -> None:
    """`python -m harness demo` end to end with the build cache warm (wall time)."""
    group = "Time to first prediction"
    for _ in range(runs):
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "demo"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        wall = time.monotonic() - start
        match = re.search(r"first prediction (\d+) s after start", proc.stdout)
        if proc.returncode not in (0, 1) or not match:
            bench.note(f"warm demo failed ({proc.returncode}): {proc.stderr[-300:]}")
            continue
        bench.add(
            "demo.warm.first_prediction",
            float(match.group(1)),
            "demo (warm cache): first prediction",
            "s",
            group,
            [Target("<=", 60.0)],
            note="python -m harness demo; cache and wheels warm",
        )
        bench.add("demo.warm.wall", wall, "demo (warm cache): whole command", "s", group)
        bench.save()


def demo_cold(bench: Bench, engine: Engine, variant: Mapping[str, str]) -> None:
    """The demo's steps on a fresh output folder with --no-cache builds (1 run).

    Cold means: fresh render, every layer rebuilt. Not cold: the base image and the wheel
    cache (re-downloading torch would measure the network, not the template).
    """
    group = "Time to first prediction"
    start = time.monotonic()
    bench.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-demo-", dir=bench.out) as tmp:
        v = Variant(engine, variant, Path(tmp))
        for target in ("train", "serve"):
            v.ours(target, no_cache=True)
        images = v.as_images()
        with Sandbox(engine, prefix="bench-demo") as box:
            models, data = smoke.train(box, images)
            url = smoke.serve(box, images, models)
            digits = smoke.held_out_images(box, images, data)
            smoke.classify(url, dict(list(sorted(digits.items()))[:8]))
            seconds = time.monotonic() - start
    bench.add(
        "demo.cold.first_prediction",
        seconds,
        "demo (cold: fresh render, --no-cache builds): first prediction",
        "s",
        group,
        [Target("<=", 300.0)],
        note="1 run; base image and wheel cache present",
    )
    bench.save()
