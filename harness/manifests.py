"""Checks of the Kubernetes overlays: each built once with kustomize, then validated against
the API schemas of the oldest and newest supported Kubernetes (kubernetes-validate) and
scanned by the same policy scanners as `nox -s scan` (trivy config, checkov)."""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import tools
from .checks import Unit, failure
from .tools import which

# The oldest and newest Kubernetes minor versions the generated manifests support.
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")
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
    version, the versions side by side."""
    validate = which("kubernetes-validate")
    with tempfile.TemporaryDirectory(prefix="kustomize-") as tmp:
        built, failures = build_overlays(units, Path(tmp))
        if not built:
            return failures
        with ThreadPoolExecutor(max_workers=len(KUBERNETES_VERSIONS)) as pool:
            runs = pool.map(
                lambda version: tools.run([validate, "--strict", "--quiet", "-k", version, *built]), KUBERNETES_VERSIONS
            )
            for version, proc in zip(KUBERNETES_VERSIONS, runs, strict=True):
                if proc.returncode != 0:
                    failures += _attribute(built, proc.stdout + proc.stderr, f"kubernetes-validate {version}")
    return failures


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
