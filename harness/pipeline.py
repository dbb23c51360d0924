"""From a variant to its built images: render, wheelhouse, base image, BuildKit build.

Used by `nox -s build`, `nox -s test` (through the pytest fixtures) and `nox -s demo`, so
each stage sees exactly the same images. Builds are cached by BuildKit: asking again for
an unchanged variant costs seconds.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import base_image, build, options, progress, wheelhouse
from .engine import Engine
from .errors import HarnessError
from .options import ROOT, variant_id
from .render import render

OUT = ROOT / "out"
ALL_TARGETS = ("train", "serve", "test", "lb")


class VariantNotBuildable(HarnessError):
    """This machine cannot build the variant; the message says why and what to select instead."""


@dataclass(frozen=True)
class Project:
    """A rendered variant ready to build: its answers, folder, wheelhouse and base image."""

    variant: Mapping[str, str]
    answers: Mapping[str, str]
    """Every answer of the render (``options.answers``): names, port, registry, version."""
    path: Path
    base_image: str
    """The BASE_IMAGE its images build from (python:X-slim, or the bootstrapped one)."""
    log_dir: Path

    @property
    def id(self) -> str:
        return variant_id(self.variant)

    @property
    def repository(self) -> str:
        """``<registry>/<image name>``, as compose.yaml and the overlays name the images."""
        return f"{self.answers['image_registry']}/{self.answers['image_name']}"

    @property
    def version(self) -> str:
        return self.answers["version"]

    @property
    def package(self) -> str:
        return self.answers["package_name"]

    @property
    def serve_port(self) -> int:
        """The container port the serve image listens on."""
        return int(self.answers["serve_port"])


@dataclass(frozen=True)
class VariantImages:
    """A project and its built targets."""

    source: Project
    results: Mapping[str, build.BuildResult]

    @property
    def variant(self) -> Mapping[str, str]:
        return self.source.variant

    @property
    def project(self) -> Path:
        return self.source.path

    @property
    def base_image(self) -> str:
        return self.source.base_image

    @property
    def id(self) -> str:
        return self.source.id

    @property
    def package(self) -> str:
        return self.source.package

    @property
    def serve_port(self) -> int:
        return self.source.serve_port

    def image(self, target: str) -> str:
        """The per-variant tag of a target, e.g. `<repo>:<variant id>-serve`."""
        return f"{self.source.repository}:{self.id}-{target}"


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


def check_buildable(variant: Mapping[str, str]) -> None:
    """Fail early, with the reason, for variants this machine cannot build."""
    if variant["accelerator"] == "cuda" and not has_nvidia_gpu():
        raise VariantNotBuildable(
            f"{variant_id(variant)} needs an NVIDIA GPU machine (its CUDA wheels are several GB and it is "
            "tested on GPU CI); none here. Select CPU variants: `-- accelerator=cpu`"
        )


def render_project(engine: Engine, variant: Mapping[str, str], out: Path = OUT, **overrides: str) -> Project:
    """Render the variant into ``out/variants/<id>/``, link its locked wheels into its
    ``.wheelhouse/`` and provide its base image (pulled or bootstrapped). Each step is cached.

    ``overrides``: answers other than the defaults (e.g. ``project_name``). Raises
    VariantNotBuildable, RenderError, WheelhouseError or BaseImageError with the reason.
    """
    check_buildable(variant)
    vid = variant_id(variant)
    python = variant["python_version"]
    logs = out / "logs" / vid
    with progress.step(f"rendering {vid}"):
        answers = options.answers(variant, **overrides)
        path = render(variant, out / "variants" / vid, **overrides)
    wheels = wheelhouse.prefetch(wheelhouse.lock_files(path), python, log=logs / "prefetch.log")
    wheelhouse.link_into(path, wheels, python)
    base = base_image.ensure_base_image(engine, python, log=out / "logs" / f"base-{python}.log")
    return Project(variant, answers, path, base, logs)


def build_targets(
    engine: Engine, project: Project, targets: Sequence[str], *, no_cache: bool = False
) -> dict[str, build.BuildResult]:
    """Build ``targets`` of the project with BuildKit, tagged ``<repo>:<version>-<target>``
    (what compose and the overlays use) and ``<repo>:<variant id>-<target>``."""
    return build.build(
        engine,
        project.path,
        targets,
        repository=project.repository,
        version=project.version,
        base_image=project.base_image,
        tag_suffix=project.id,
        log_dir=project.log_dir,
        no_cache=no_cache,
    )


def prepare(
    engine: Engine,
    variant: Mapping[str, str],
    targets: Sequence[str] = ALL_TARGETS,
    out: Path = OUT,
    **overrides: str,
) -> VariantImages:
    """Render the variant and build its targets: ``render_project`` then ``build_targets``."""
    project = render_project(engine, variant, out, **overrides)
    return VariantImages(project, build_targets(engine, project, targets))
