"""Builds for the benchmarks: our targets (harness/build.py), the naive and floor baselines,
image sizes, and the one-line source edit that the rebuild figures measure.

The baselines are built exactly like our images: same base image, same BuildKit, the
project's .wheelhouse/ bind mount and the pip.conf/CA secrets written by
``build.write_pip_conf`` (so every figure compares Dockerfiles, not package sources).
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from .. import build, wheelhouse
from ..engine import Engine

HERE = Path(__file__).resolve().parent
NAIVE = HERE / "naive.Dockerfile"
FLOOR = HERE / "floor.Dockerfile"
BUILD_BACKEND = HERE / "build-backend.txt"
BASELINES = {"naive": (NAIVE, "naive"), "floor": (FLOOR, "floor")}


def add_build_backend(project: Path, python_version: str, log_dir: Path) -> None:
    """Put the naive baseline's build backend (its `pip install .` builds a wheel) into the
    project's .wheelhouse/, once, before any bench build: BuildKit keys the install steps
    on that folder's content, so adding it between two builds would rebuild their layers."""
    wheels = wheelhouse.prefetch([BUILD_BACKEND], python_version, log=log_dir / "prefetch-build-backend.log")
    wheelhouse.link_into(project, wheels, python_version, extra=[BUILD_BACKEND])


def build_baseline(
    engine: Engine,
    project: Path,
    kind: str,
    requirements: str,
    tag: str,
    base_image: str,
    *,
    no_cache: bool = False,
    log_dir: Path,
) -> build.BuildResult:
    """Build ``naive`` or ``floor`` for ``requirements`` (serve or train) of the project."""
    dockerfile, stage = BASELINES[kind]
    args = {"BASE_IMAGE": base_image, "REQUIREMENTS": requirements}
    log = log_dir / f"build-{kind}-{requirements}.log"
    return build_offline(engine, project, dockerfile, stage, tag, args, log, no_cache=no_cache)


def build_offline(
    engine: Engine,
    context: Path,
    dockerfile: Path,
    stage: str,
    tag: str,
    build_args: dict[str, str],
    log: Path,
    *,
    no_cache: bool = False,
) -> build.BuildResult:
    """Build ``stage`` of ``dockerfile`` in ``context`` (which holds a filled .wheelhouse/)
    with no package index: the pip.conf (``no-index``) and the host's CA as BuildKit secrets,
    as harness/build.py builds our images. Raises build.BuildError with the log's tail."""
    ca = build.HOST_CA_BUNDLE if build.HOST_CA_BUNDLE.is_file() else None
    log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-secrets-") as secrets:
        pip_conf = build.write_pip_conf(Path(secrets) / "pip.conf", offline=True, with_ca=ca is not None)
        secret_args = ["--secret", f"id=pipconf,src={pip_conf}"]
        if ca is not None:
            secret_args += ["--secret", f"id=ca,src={ca}"]
        return build._build_one(
            engine, Path(context), stage, [tag], build_args, secret_args, log, no_cache, ["-f", str(dockerfile)], 60
        )


def image_size(engine: Engine, ref: str) -> int:
    """The image's size in bytes as the daemon reports it (all layers, uncompressed)."""
    return int(engine.run("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip())


def edit_source(project: Path) -> Path:
    """Append a one-line comment to a module of the package (a real, content-changing edit)."""
    package = next(p for p in (Path(project) / "src").iterdir() if p.is_dir())
    module = package / "config.py"
    with module.open("a") as fh:
        fh.write(f"# bench edit {uuid.uuid4().hex} at {time.time():.0f}\n")
    return module
