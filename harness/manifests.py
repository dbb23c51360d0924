"""Checks of the Kubernetes overlays: each built once with kustomize, then validated against
the API schemas of the oldest and newest supported Kubernetes (kubernetes-validate), KServe
resources against KServe's own API classes (harness.kserve_schema), and scanned by the same
policy scanners as `nox -s scan` (trivy config, checkov)."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

from . import kserve_schema, tools
from .checks import Unit, failure
from .tools import which

# The oldest and newest Kubernetes minor versions the generated manifests support.
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")
# What kubernetes-validate warns, still exiting 0, about a kind it has no schema for.
NO_SCHEMA = "Couldn't find schema"
# The two overlay checks run side by side; one builds the overlays while the other waits
# for the cached results, instead of both building them.
_BUILDING = threading.Lock()


def build_overlays(units: list[Unit], into: Path) -> tuple[dict[str, Unit], list[str]]:
    """`kubectl kustomize` each overlay into ``into/overlay-N.yaml``; return file -> unit, and failures.

    The builds run side by side, one per core; the overlay check that comes second finds
    them cached."""
    kubectl = which("kubectl")
    with _BUILDING, ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        outcomes = list(pool.map(lambda u: _kustomize_build(kubectl, str(u.path), _overlay_digest(u.path)), units))
    built: dict[str, Unit] = {}
    failures = []
    for n, (unit, (code, output)) in enumerate(zip(units, outcomes, strict=True)):
        if code != 0:
            failures.append(failure(unit, "kubectl kustomize: " + output))
            continue
        path = into / f"overlay-{n}.yaml"
        path.write_text(output)
        built[str(path)] = unit
    return built, failures


def _overlay_digest(overlay: Path) -> str:
    """A digest of everything a kustomize build of the overlay reads (it and ../../base)."""
    digest = hashlib.sha256()
    for folder in (overlay, overlay.parent.parent / "base"):
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(file.as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=256)
def _kustomize_build(kubectl: str, overlay: str, digest: str) -> tuple[int, str]:
    """``kubectl kustomize`` of one overlay folder, once for both overlay checks (cached by
    the overlay's content ``digest``): (exit code, the manifests or the error)."""
    proc = tools.run([kubectl, "kustomize", overlay])
    return proc.returncode, proc.stdout if proc.returncode == 0 else proc.stderr


def _attribute(built: dict[str, Unit], output: str, what: str) -> list[str]:
    """Failures per overlay whose built file the tool's output names (else the first)."""
    hit = [path for path in built if Path(path).name in output] or list(built)[:1]
    failures = []
    for path in hit:
        lines = [line for line in output.splitlines() if Path(path).name in line] or output.splitlines()
        failures.append(failure(built[path], f"{what}: " + "\n".join(lines)))
    return failures


def validate(units: list[Unit]) -> list[str]:
    """Build every overlay with kustomize, then validate all builds in one run per Kubernetes
    version, the versions side by side. KServe documents go to KServe's API classes instead,
    alongside: kubernetes-validate has no schema for them, and only warns about a kind it
    does not know, which fails here."""
    validate = which("kubernetes-validate")
    with tempfile.TemporaryDirectory(prefix="kustomize-") as tmp:
        built, failures = build_overlays(units, Path(tmp))
        if not built:
            return failures
        custom = _take_out_kserve(built)
        with ThreadPoolExecutor(max_workers=len(KUBERNETES_VERSIONS) + 1) as pool:
            kserve = pool.submit(_kserve_failures, built, custom)
            runs = pool.map(
                lambda version: tools.run([validate, "--strict", "--quiet", "-k", version, *built]), KUBERNETES_VERSIONS
            )
            for version, proc in zip(KUBERNETES_VERSIONS, runs, strict=True):
                # A kind without a schema is only a warning (exit 0): fail it, not pass it.
                if proc.returncode != 0 or NO_SCHEMA in proc.stdout + proc.stderr:
                    failures += _attribute(built, proc.stdout + proc.stderr, f"kubernetes-validate {version}")
            failures += kserve.result()
    return failures


def _take_out_kserve(built: dict[str, Unit]) -> dict[str, list[dict]]:
    """Remove the KServe documents from each built file that has any (the rest stays for
    kubernetes-validate); return file -> the documents removed."""
    custom = {}
    for path in built:
        text = Path(path).read_text(encoding="utf-8")
        if kserve_schema.GROUP + "/" not in text:
            continue
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
        custom[path] = [doc for doc in docs if kserve_schema.is_kserve(doc)]
        kept = [doc for doc in docs if not kserve_schema.is_kserve(doc)]
        Path(path).write_text(yaml.safe_dump_all(kept, sort_keys=False), encoding="utf-8")
    return {path: docs for path, docs in custom.items() if docs}


def _kserve_failures(built: dict[str, Unit], custom: dict[str, list[dict]]) -> list[str]:
    """One failure per overlay whose KServe documents break KServe's API classes, a line per
    problem: ``<file> <kind>/<name>: <field path>: <rule>``. kserve is imported only here,
    and only if some overlay has such a document; when it cannot be, every one fails."""
    failures = []
    for path, docs in custom.items():
        unit = built[path]
        try:
            lines = [
                f"{_source(unit, doc)} {doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}: {problem}"
                for doc in docs
                for problem in kserve_schema.problems(doc)
            ]
        except kserve_schema.KServeUnavailable as exc:
            lines = [str(exc)]
        if lines:
            what = f"kserve {kserve_schema.version()} API"
            failures.append(failure(unit, "\n".join(f"{what}: {line}" for line in lines)))
    return failures


def _source(unit: Unit, doc: dict) -> str:
    """The file of the overlay (or its base) that declares ``doc``'s kind, relative to the project."""
    pattern = re.compile(rf"^kind:\s*{re.escape(str(doc.get('kind')))}\s*$", re.MULTILINE)
    for folder in (unit.path, unit.path.parent.parent / "base"):
        for file in sorted(folder.rglob("*.y*ml")):
            if pattern.search(file.read_text(encoding="utf-8")):
                return file.relative_to(unit.project).as_posix()
    return unit.path.relative_to(unit.project).as_posix()


def prewarm_policy() -> None:
    """Start checkov's interpreter now (it imports for about 7 s) so that its import overlaps
    the renders; :func:`policy` then hands it the built overlays."""
    from .scan import static

    tools.prewarm("checkov", env=static.checkov_env())


def policy(units: list[Unit]) -> list[str]:
    """trivy config and checkov over every built overlay at once: no HIGH/CRITICAL, no failed check."""
    from .scan import static  # the same scanner calls as `nox -s scan`
    from .scan.result import FAIL

    with tempfile.TemporaryDirectory(prefix="manifests-") as tmp:
        manifests = Path(tmp) / "manifests"
        manifests.mkdir()
        built, failures = build_overlays(units, manifests)
        if not built:
            return failures
        # The two scanners run side by side: each is mostly a wait on its own process.
        with ThreadPoolExecutor(max_workers=2) as pool:
            scans = [
                pool.submit(scanner, manifests, Path(tmp) / "reports" / name)
                for name, scanner in (("trivy", static.trivy_config), ("checkov", static.checkov))
            ]
            outcomes = [scan.result() for scan in scans]
        for outcome in outcomes:
            if outcome.status == FAIL:
                failures += _attribute(built, outcome.detail, outcome.check)
    return failures
