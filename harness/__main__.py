"""Command line of the harness: `python -m harness <command> [variants...]`.

nox sessions call these commands inside their virtual environments; they can also be run
by hand. Variants are chosen by id ('py3.11-sklearn-cpu-single-nok8s-gha'), by filters
('framework=sklearn,accelerator=cpu'), or by 'all', 'covering', 'default'.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import manifests, options, progress, variant_terms
from .errors import HarnessError
from .lint import file_set_failures, format_report, run_checks
from .render import render_many
from .template_lint import check_template

OUT = options.ROOT / "out"


def cmd_matrix(args: argparse.Namespace) -> int:
    variants = options.select(args.variants)
    include = [{"id": options.variant_id(v), **v} for v in variants]
    print(json.dumps({"include": include}, separators=(",", ":")))
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    variants = options.select(args.variants, pool=[options.default_variant()])
    projects = render_many(variants, args.output)
    for vid, project in projects.items():
        print(f"{vid}: {project}")
    return 0


def cmd_lint(args: argparse.Namespace) -> int:
    variants = options.select(args.variants, pool=options.valid_variants())
    start = time.perf_counter()
    if any(v["kubernetes"] != "none" for v in variants):
        manifests.prewarm_policy()
    with tempfile.TemporaryDirectory(prefix="lint-") as tmp:
        projects = render_many(variants, Path(tmp))
        rendered = time.perf_counter() - start
        by_id = {options.variant_id(v): v for v in variants}
        results = run_checks(projects)
        file_set = file_set_failures(by_id, projects)
        foreign = list(variant_terms.failures(by_id, projects))
    wall = time.perf_counter() - start
    failed = False
    for problem in check_template():
        failed = True
        print(f"FAIL template source: {problem}\n")
    for result in results:
        for failure in result.failures:
            failed = True
            print(f"FAIL {result.name}: {failure}\n")
    for failure in file_set:
        failed = True
        print(f"FAIL expected file set: {failure}\n")
    for failure in foreign:
        failed = True
        print(f"FAIL a variant mentions what it does not have: {failure}\n")
    print(f"rendered {len(variants)} variants in {rendered:.1f} s")
    print(format_report(results, wall, len(variants)))
    print("lint: FAILED" if failed else "lint: all checks passed")
    return 1 if failed else 0


def cmd_build(args: argparse.Namespace) -> int:
    from .engine import find_engine
    from .pipeline import prepare

    engine = find_engine()
    variants = options.select(args.variants)
    print(f"building {len(variants)} variant(s) with {engine.docker} (daemon {engine.server_version})")
    for variant in variants:
        images = prepare(engine, variant)
        for target, result in images.results.items():
            print(f"  {images.id:<44} {target:<6} {result.seconds:6.1f} s  {result.tags[-1]}")
    return 0


def cmd_lock(args: argparse.Namespace) -> int:
    from . import lock

    variants = options.select(args.variants or ["all"], pool=options.valid_variants())
    chosen: dict[str, options.Variant] = {}
    for variant in variants:
        chosen.setdefault(lock.key(variant), variant)
    for lock_key, variant in sorted(chosen.items()):
        folder = lock.make(variant, upgrade=args.upgrade)
        print(f"{lock_key}: {folder.relative_to(options.ROOT)}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    [variant] = options.select(args.variants or ["default"])[:1]
    return run_demo(variant)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quiet", action="store_true", help="print only failures and results, no progress (also HARNESS_QUIET=1)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, help_text in (
        ("matrix", cmd_matrix, "print the covering set as a GitHub Actions matrix (JSON)"),
        ("render", cmd_render, "render variants (default: the default variant)"),
        ("lint", cmd_lint, "render variants (default: all valid ones) and run every static check"),
        ("build", cmd_build, "build the train, serve, test and lb images of variants (default: covering set)"),
        ("lock", cmd_lock, "uv-lock the generated projects (default: every combination) into templates/locks/"),
        ("demo", cmd_demo, "generate, build, train, serve and predict the default variant"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("variants", nargs="*", help="variant ids or filters such as framework=sklearn")
        p.set_defaults(func=func)
        if name == "lock":
            p.add_argument("--upgrade", action="store_true", help="newest allowed versions, not the locked ones")
        if name == "render":
            p.add_argument("--output", type=Path, default=OUT / "render", help="output folder")
    args = parser.parse_args(argv)
    if args.quiet:
        progress.set_quiet(True)
    try:
        return args.func(args)
    except (ValueError, HarnessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
