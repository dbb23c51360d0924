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

from . import base_image, build, progress, wheelhouse
from .engine import Engine
from .errors import HarnessError
from .options import ROOT, variant_id
from .render import render

OUT = ROOT / "out"
ALL_TARGETS = ("train", "serve", "test", "lb")


class VariantNotBuildable(HarnessError):
    """This machine cannot build the variant; the message says why and what to select instead."""


@dataclass(frozen=True)
class VariantImages:
    variant: Mapping[str, str]
    project: Path
    results: Mapping[str, build.BuildResult]
    base_image: str
    """The BASE_IMAGE the images were built from (python:X-slim, or the bootstrapped one)."""

    @property
    def id(self) -> str:
        return variant_id(self.variant)

    def image(self, target: str) -> str:
        """The per-variant tag of a target, e.g. `<repo>:<variant id>-serve`."""
        return next(t for t in self.results[target].tags if t.endswith(f":{self.id}-{target}"))

    @property
    def package(self) -> str:
        return next(p.name for p in (self.project / "src").iterdir() if p.is_dir())


def has_nvidia_gpu() -> bool:
    return shutil.which("nvidia-smi") is not None or os.path.exists("/dev/nvidia0")


def check_buildable(variant: Mapping[str, str]) -> None:
    """Fail early, with the reason, for variants this machine cannot build."""
    if variant["accelerator"] == "cuda" and not has_nvidia_gpu():
        raise VariantNotBuildable(
            f"{variant_id(variant)} needs an NVIDIA GPU machine (its CUDA wheels are several GB and it is "
            "tested on GPU CI); none here. Select CPU variants: `-- accelerator=cpu`"
        )


def prepare(
    engine: Engine,
    variant: Mapping[str, str],
    targets: Sequence[str] = ALL_TARGETS,
    out: Path = OUT,
) -> VariantImages:
    """Render the variant into out/variants/<id>/ and build its targets with BuildKit."""
    check_buildable(variant)
    vid = variant_id(variant)
    python = variant["python_version"]
    with progress.step(f"rendering {vid}"):
        project = render(variant, out / "variants" / vid)
    wheels = wheelhouse.prefetch(wheelhouse.lock_files(project), python, log=out / "logs" / f"prefetch-{vid}.log")
    wheelhouse.link_into(project, wheels, python)
    base = base_image.ensure_base_image(engine, python, log=out / "logs" / f"base-{python}.log")
    results = build.build(engine, project, targets, base_image=base, tag_suffix=vid, log_dir=out / "logs" / vid)
    return VariantImages(variant, project, results, base)
