"""Build the images of a rendered project with BuildKit.

Each target (``train``, ``serve``, ``test``, ``lb``) is one ``docker build --target``
with:
  * ``BASE_IMAGE`` (from ``base_image.ensure_base_image``) and OCI label build args;
  * the host's CA bundle and a generated pip.conf as BuildKit secrets, mounted only for
    the install steps (they never enter a layer);
  * the project's ``.wheelhouse/`` (``wheelhouse.link_into``) as the package source, with
    ``no-index`` in that pip.conf when ``offline`` (the default).
The full BuildKit log goes to a file; a failure raises BuildError with its tail.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import progress
from .engine import Engine
from .errors import HarnessError

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
DEFAULT_INDEX_URL = "https://pypi.org/simple"
TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TARGETS = ("train", "serve")


class BuildError(HarnessError):
    """A docker build failed; the message holds the target, the log path and its tail."""


@dataclass(frozen=True)
class BuildResult:
    """One built target."""

    target: str
    image_id: str
    tags: tuple[str, ...]
    seconds: float
    log: Path


def oci_build_args(
    version: str,
    *,
    revision: str | None = None,
    created: str | None = None,
    source: str | None = None,
) -> dict[str, str]:
    """VERSION, REVISION, CREATED, SOURCE for the OCI labels.

    Defaults: the template repository's git HEAD; SOURCE_DATE_EPOCH, else HEAD's commit
    time, else now (UTC, RFC 3339); the template's ``origin`` remote (or its path).
    """
    if created is None:
        # Reproducible by default: the same commit gives the same label, so an unchanged
        # rebuild gives the same image id.
        epoch = os.environ.get("SOURCE_DATE_EPOCH") or _git(["log", "-1", "--format=%ct"])
        when = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch else dt.datetime.now(dt.UTC)
        created = when.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {
        "VERSION": version,
        "REVISION": revision or _git(["rev-parse", "HEAD"]) or "unknown",
        "CREATED": created,
        "SOURCE": source or _git(["remote", "get-url", "origin"]) or str(TEMPLATE_ROOT),
    }


def write_pip_conf(
    path: Path,
    *,
    offline: bool = True,
    index_url: str | None = None,
    with_ca: bool = True,
) -> Path:
    """Write the pip.conf passed to the build as secret ``pipconf`` (mounted at /etc/pip.conf).

    ``offline``: ``no-index`` (every wheel comes from the mounted .wheelhouse); otherwise
    ``index-url`` (default $ML_TEMPLATE_INDEX_URL or PyPI, through the proxy, with the CA
    secret as ``cert``). Credentials belong in ``index_url``; the file is a secret.
    """
    lines = ["[global]"]
    if offline:
        lines.append("no-index = true")
    else:
        lines.append(f"index-url = {index_url or os.environ.get('ML_TEMPLATE_INDEX_URL', DEFAULT_INDEX_URL)}")
    if with_ca:
        lines.append("cert = /run/secrets/ca")
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def build(
    engine: Engine,
    project_dir: Path,
    targets: Sequence[str] = DEFAULT_TARGETS,
    *,
    repository: str,
    version: str,
    base_image: str | None = None,
    tag_suffix: str | None = None,
    offline: bool = True,
    index_url: str | None = None,
    ca_bundle: Path | None = HOST_CA_BUNDLE,
    labels: Mapping[str, str] | None = None,
    log_dir: Path | None = None,
    no_cache: bool = False,
    extra_args: Sequence[str] = (),
    tail_lines: int = 60,
) -> dict[str, BuildResult]:
    """Build ``targets`` of the rendered project at ``project_dir``; return their results.

    Tags: ``<repository>:<version>-<target>`` (what compose.yaml and the k8s overlays use)
    and, with ``tag_suffix`` (e.g. a variant id), ``<repository>:<tag_suffix>-<target>``;
    ``repository`` and ``version`` come from the answers (``pipeline.Project``).
    ``base_image``: passed as BASE_IMAGE (None: the Dockerfile's python:X-slim default).
    ``labels``: OCI build args (default ``oci_build_args(<project version>)``).
    Logs: ``<log_dir>/build-<target>.log`` (default ``<project>/../build-logs``).
    """
    project_dir = Path(project_dir).resolve()
    if not (project_dir / ".wheelhouse").is_dir():
        (project_dir / ".wheelhouse").mkdir()
    build_args = dict(labels or oci_build_args(version))
    if base_image:
        build_args["BASE_IMAGE"] = base_image
    log_dir = Path(log_dir or project_dir.parent / "build-logs")
    log_dir.mkdir(parents=True, exist_ok=True)
    ca = Path(ca_bundle) if ca_bundle and Path(ca_bundle).is_file() else None
    results: dict[str, BuildResult] = {}
    # Secrets live outside the build context, in a private temp dir removed afterwards.
    with tempfile.TemporaryDirectory(prefix="build-secrets-") as secrets:
        pip_conf = write_pip_conf(
            Path(secrets) / "pip.conf", offline=offline, index_url=index_url, with_ca=ca is not None
        )
        secret_args = ["--secret", f"id=pipconf,src={pip_conf}"]
        if ca is not None:
            secret_args += ["--secret", f"id=ca,src={ca}"]
        for target in targets:
            tags = [f"{repository}:{version}-{target}"]
            if tag_suffix:
                tags.append(f"{repository}:{tag_suffix}-{target}")
            results[target] = _build_one(
                engine,
                project_dir,
                target,
                tags,
                build_args,
                secret_args,
                log_dir / f"build-{target}.log",
                no_cache,
                extra_args,
                tail_lines,
            )
    return results


def _build_one(
    engine: Engine,
    project_dir: Path,
    target: str,
    tags: list[str],
    build_args: Mapping[str, str],
    secret_args: list[str],
    log: Path,
    no_cache: bool,
    extra_args: Sequence[str],
    tail_lines: int,
) -> BuildResult:
    iidfile = log.with_suffix(".iid")
    iidfile.unlink(missing_ok=True)
    cmd = [engine.docker, "build", "--progress=plain", "--target", target, "--iidfile", str(iidfile)]
    for key, value in build_args.items():
        cmd += ["--build-arg", f"{key}={value}"]
    for tag in tags:
        cmd += ["--tag", tag]
    if no_cache:
        cmd.append("--no-cache")
    cmd += [*secret_args, *extra_args, str(project_dir)]
    started = time.monotonic()
    with progress.step(f"building {tags[-1]}", log), progress.open_log(log) as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=engine.env(), check=False)
        if proc.returncode != 0 or not iidfile.is_file():
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-tail_lines:])
            raise BuildError(
                f"building target {target!r} of {project_dir} failed ({proc.returncode}); full log: {log}\n{tail}"
            )
    seconds = time.monotonic() - started
    return BuildResult(target, iidfile.read_text().strip(), tuple(tags), seconds, log)


def _git(args: list[str]) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "-C", str(TEMPLATE_ROOT), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None
