"""The security gate over variants: build, run every check, write reports, print one table.

``python -m harness.scan [--require-audit] [variants...]`` (``nox -s scan``). Reports go to
``out/scan/<variant id>/``: SARIF per scanner, ``sbom-<target>.cdx.json`` per image, the
scanners' JSON; ``out/scan/summary.txt`` holds the table. Exit status 1 on any FAIL, and
on UNAVAILABLE only with ``--require-audit`` or ``SCAN_REQUIRE_AUDIT=1``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from ..build import HOST_CA_BUNDLE
from ..engine import Engine, EngineError, find_engine
from ..errors import ToolMissing
from ..options import select, variant_id
from ..pipeline import OUT, VariantNotBuildable, check_buildable, prepare
from . import deps, images, static
from .result import FAIL, PASS, UNAVAILABLE, Outcome, details, summary_table
from .tools import ScanError

TARGETS = ("train", "serve")
SCAN_OUT = OUT / "scan"


def guarded(check: str, fn: Callable[[], Outcome | list[Outcome]]) -> list[Outcome]:
    """Run a check; a scanner that cannot run is a FAIL with the reason, never a pass."""
    try:
        result = fn()
    except (ToolMissing, ScanError, EngineError, OSError, ValueError) as exc:
        return [Outcome(check, FAIL, 0, str(exc))]
    return result if isinstance(result, list) else [result]


def merge(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """One outcome per check name: the worst status, findings added, details joined."""
    rank = {PASS: 0, UNAVAILABLE: 1, FAIL: 2}
    merged: dict[str, Outcome] = {}
    for o in outcomes:
        if o.check not in merged:
            merged[o.check] = o
            continue
        m = merged[o.check]
        status = max(m.status, o.status, key=rank.__getitem__)
        detail = "\n".join(d for d in (m.detail, o.detail) if d)
        merged[o.check] = Outcome(o.check, status, m.findings + o.findings, detail)
    return list(merged.values())


def scan_project(project: Path, out: Path) -> list[Outcome]:
    """The file checks of a rendered project (no images needed)."""
    outcomes: list[Outcome] = []
    config: list[Path] = []

    def stage() -> list[Outcome]:
        config.append(static.stage_config(project, out / "config"))
        return []

    outcomes += guarded("trivy-config", stage)
    if config:
        outcomes += guarded("trivy-config", lambda: static.trivy_config(config[0], out))
        outcomes += guarded("checkov", lambda: static.checkov(config[0], out))
    outcomes += guarded("hadolint", lambda: static.hadolint(project / "Dockerfile", project / ".hadolint.yaml", out))
    outcomes += guarded("bandit", lambda: static.bandit(project / "src", out))
    outcomes += guarded("secrets-tree", lambda: static.secrets_fs(project, out))
    for lock in ("serve", "train"):
        outcomes += guarded(
            "pip-audit", lambda lock=lock: deps.pip_audit(project / "requirements" / f"{lock}.txt", out)
        )
    return outcomes


def scan_images(engine: Engine, built: Mapping[str, str], out: Path) -> list[Outcome]:
    """The image checks: secrets per layer, leaked build secrets, SBOM, and the serve policy."""
    secrets = images.BuildSecrets.from_host(HOST_CA_BUNDLE)
    outcomes: list[Outcome] = []
    for target, image in built.items():
        outcomes += guarded("secrets-image", lambda t=target, i=image: list(images.trivy_image(engine, i, out, t)))
        outcomes += guarded("build-secrets", lambda t=target, i=image: images.build_secret_leaks(engine, i, secrets, t))
    if "serve" in built:
        outcomes += guarded("serve-policy", lambda: images.serve_policy(engine, built["serve"]))
    return outcomes


def scan_variant(engine: Engine, variant: Mapping[str, str], out_root: Path = SCAN_OUT) -> list[Outcome]:
    vid = variant_id(variant)
    start = time.perf_counter()
    try:
        check_buildable(variant)
        prepared = prepare(engine, variant, targets=TARGETS)
    except VariantNotBuildable as exc:
        return [Outcome("build", FAIL, 0, str(exc))]
    except Exception as exc:  # a build failure is this variant's FAIL, the others still run
        return [Outcome("build", FAIL, 0, f"{type(exc).__name__}: {exc}")]
    print(f"scan: {vid}: images ready in {time.perf_counter() - start:.0f} s", flush=True)
    out = out_root / vid
    out.mkdir(parents=True, exist_ok=True)
    outcomes = [Outcome("build", PASS)]
    outcomes += scan_project(prepared.project, out)
    outcomes += scan_images(engine, {t: prepared.image(t) for t in TARGETS}, out)
    return merge(outcomes)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.scan", description=__doc__.splitlines()[0])
    parser.add_argument("--require-audit", action="store_true", help="fail when advisory data is unavailable")
    parser.add_argument("--out", type=Path, default=SCAN_OUT)
    parser.add_argument("variants", nargs="*", help="ids or filters (default: the covering set)")
    args = parser.parse_args(argv)
    require = args.require_audit or os.environ.get("SCAN_REQUIRE_AUDIT", "") not in ("", "0")
    try:
        variants = select(args.variants)
        engine = find_engine()
    except (ValueError, EngineError) as exc:
        print(f"scan: {exc}")
        return 2
    start = time.perf_counter()
    rows: dict[str, list[Outcome]] = {}
    for variant in variants:
        vid = variant_id(variant)
        print(f"scan: {vid} ...", flush=True)
        t0 = time.perf_counter()
        rows[vid] = scan_variant(engine, variant, args.out)
        print(f"scan: {vid} done in {time.perf_counter() - t0:.0f} s", flush=True)
    table = summary_table(rows)
    report = f"{table}\n\n{details(rows)}\n\n{len(rows)} variant(s) scanned in {time.perf_counter() - start:.0f} s"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.txt").write_text(report + "\n", encoding="utf-8")
    print(report)
    statuses = {o.status for outcomes in rows.values() for o in outcomes}
    if FAIL in statuses:
        return 1
    if UNAVAILABLE in statuses and require:
        print("scan: advisory data was unavailable and an audit is required (--require-audit / SCAN_REQUIRE_AUDIT)")
        return 1
    return 0
