"""`python -m harness.bench [--runs N] [--quick] [--only GROUPS] [variants...]`.

Variants: ids or filters as for `python -m harness` (default: accelerator=cpu,python_version=3.11,
i.e. the CPU variants of the covering set on Python 3.11), measured side by side in one run.
Writes out/bench/bench.json, report.md, bench.png and copies report.md and bench.png to
docs/bench/.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import traceback
from pathlib import Path

from .. import options

GROUPS = ("builds", "serve", "peers", "compose", "ddp", "memory", "lint", "demo")
DEFAULT_SPECS = ["accelerator=cpu,python_version=3.11"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", help="variant ids or filters (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs of the cheap figures (default 3)")
    parser.add_argument("--quick", action="store_true", help="1 run, 5 s loads, no cold builds, no cold demo")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each wrk load (default 10)")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"comma-separated groups of {', '.join(GROUPS)}")
    parser.add_argument("--append", action="store_true", help="add to the figures of out/bench/bench.json")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default out/bench)")
    parser.add_argument("--no-docs", action="store_true", help="do not copy the report to docs/bench/")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    unknown = only - set(GROUPS)
    if unknown:
        parser.error(f"unknown group(s) {', '.join(sorted(unknown))}: choose from {', '.join(GROUPS)}")
    runs = 1 if args.quick else args.runs
    seconds = 5.0 if args.quick else args.seconds
    variants = [v for v in options.select(args.variants or DEFAULT_SPECS) if v["accelerator"] == "cpu"]

    from .core import DOCS, OUT, Bench, Variant
    from .harness_timing import demo_cold, demo_warm, lint
    from .images import sizes_and_builds
    from .serving import train_and_serve
    from .training import ddp, memory

    command = "python -m harness.bench " + shlex.join(argv if argv is not None else sys.argv[1:])
    bench = Bench(out=args.out or OUT, docs=None if args.no_docs else DOCS, command=command.strip())
    if args.append:
        bench.load()
    for v in variants:
        if options.variant_id(v) not in bench.meta["variants"]:
            bench.meta["variants"].append(options.variant_id(v))
    bench.meta["runs"] = runs
    for note in NOTES:
        bench.note(note)
    failed = False

    def step(name: str, func, *a, **kw) -> None:
        nonlocal failed
        print(f"bench: {name} ...", flush=True)
        try:
            func(*a, **kw)
        except Exception as exc:  # a failed step is reported, the others still run
            failed = True
            bench.note(f"step {name} failed: {type(exc).__name__}: {str(exc)[-400:]}")
            traceback.print_exc()
        bench.save()

    engine = None
    if only & {"builds", "serve", "peers", "compose", "ddp", "memory", "demo"}:
        from ..engine import find_engine

        engine = find_engine()
        bench.meta["machine"]["docker"] = engine.server_version
    for variant in variants:
        vid = options.variant_id(variant)
        if not only & {"builds", "serve", "peers", "compose", "ddp", "memory"}:
            break
        try:
            v = Variant(engine, variant)
        except Exception as exc:
            bench.note(f"{vid}: could not prepare: {exc}")
            failed = True
            continue
        if "builds" in only:
            heavy = not args.quick and variant == variants[0]
            step(f"{vid} builds", sizes_and_builds, bench, v, runs, cold=not args.quick, heavy_naive=heavy)
        else:
            step(f"{vid} images", lambda v=v: [v.ours(t) for t in ("train", "serve", "lb")])
        if only & {"serve", "peers"}:
            train_runs = runs if variant["framework"] == "sklearn" else 1
            compose = "compose" in only and variant == variants[0]
            with_peers = "peers" in only
            step(f"{vid} train+serve", train_and_serve, bench, v, runs, seconds, train_runs, compose, with_peers)
        if "ddp" in only and variant["distributed_training"] == "torchrun":
            step(f"{vid} ddp", ddp, bench, v)
        if "memory" in only:
            step(f"{vid} training memory", memory, bench, v)
    if "lint" in only:
        step("lint", lint, bench, 1 if args.quick else min(runs, 2))
    if "demo" in only:
        step("demo warm", demo_warm, bench, 1 if args.quick else min(runs, 2))
        if not args.quick:
            step("demo cold", demo_cold, bench, engine, options.default_variant())
    bench.save()
    print(f"bench: wrote {bench.out / 'report.md'}")
    return 1 if failed else 0


NOTES = [
    "Noisy: 2 CPUs shared with other jobs building and testing on the same Docker daemon; each figure is the "
    "median of its runs (min-max shown). wrk runs on the same 2 CPUs as the server.",
    "Cold builds: --no-cache (no layer cache) for the serve target of every variant and the train target of "
    "sklearn; the pip cache mount, the base image and the wheel cache stay warm (wheels come from the local "
    "wheelhouse, so network time is excluded). torch/tensorflow train builds are measured warm only.",
    "Rebuild after an edit: a comment line appended to src/<package>/config.py of the rendered project, then the "
    "same target rebuilt with the cache warm; naive = harness/bench/naive.Dockerfile (one stage, source copied "
    "before the install). Floor = harness/bench/floor.Dockerfile (base + runtime deps in a bare venv).",
    "Throughput: wrk -c 1 (1 thread) and -c 16 (2 threads), 10 s each, loopback, one PNG digit per predict "
    "request; throughput counts 2xx answers only. The serve container runs hardened with 2 CPUs (as in the "
    "tests), one uvicorn worker, ENABLE_NOOP=1 and MAX_CONCURRENCY=16 (the default 4 answers the excess of "
    "c=16 with fast 503s: load shedding, not predictions). Compose: the same, replicas limited to 1 CPU and the "
    "lb to 0.5 CPU by compose.yaml.",
    "Training, DDP and the cold demo cost minutes per run: 1 run each (sklearn training: all runs).",
    "Training memory: one epoch of the train image (hardened, 2 CPUs) on the shapes set (1,296 train images "
    "of 32x32 after the validation hold-out) and on the same set with every train image copied 10 times; the "
    "figure is the process's peak resident memory (VmHWM), from its done event.",
]


if __name__ == "__main__":
    sys.exit(main())
