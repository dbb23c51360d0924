"""The README's main job on the default variant: generate, build, train, serve, predict.

It ends with the lines a user pastes to do the same by hand in the generated project,
carrying every build setting this machine needed (base image, pip configuration, CA), so
that they work where the demo ran. `tests/docker` runs those lines exactly as printed.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Mapping

from . import build, progress, smoke
from .base_image import upstream_ref
from .engine import find_engine
from .options import variant_id
from .pipeline import VariantImages, prepare
from .sandbox import Sandbox

# Every image `docker compose` starts: the train profile, the serve replicas and the load balancer.
COMPOSE_TARGETS = ("train", "serve", "lb")
SAMPLE = "digit.png"


def run_demo(variant: Mapping[str, str], samples: int = 8) -> int:
    """Build, train, serve and classify the held-out digits; print how to do it by hand.

    Returns 0 when at least 95% of the held-out digits are classified right, else 1.
    Raises the harness's errors (EngineError, BuildError, ...) with their messages.
    """
    started = time.monotonic()
    engine = find_engine()
    print(f"demo: {variant_id(variant)} with {engine.docker} (daemon {engine.server_version})", flush=True)
    images = prepare(engine, variant, targets=COMPOSE_TARGETS)
    print(f"demo: generated project at {images.project}", flush=True)
    train_log = images.project.parent / "train.log"
    with Sandbox(engine, prefix="demo") as box:
        with progress.step("training (non-root, read-only root filesystem)", train_log):
            models, data = smoke.train(box, images, log=train_log)
        with progress.step("starting the server and waiting for /readyz"):
            url = smoke.serve(box, images, models)
        print(f"demo: serving at {url} (ready)", flush=True)
        digits = smoke.held_out_images(box, images, data)
        step = max(1, len(digits) // samples)
        shown = dict(list(sorted(digits.items()))[::step][:samples])
        result = smoke.classify(url, shown)
        for name, truth, label, probability in result.samples:
            print(f"  {name:<28} true {truth}  predicted {label}  p={probability:.3f}")
        overall = smoke.classify(url, digits)
    (images.project / SAMPLE).write_bytes(next(iter(shown.values()))[1])
    print(
        f"demo: {overall.correct}/{overall.total} held-out digits right ({overall.accuracy:.1%}); "
        f"first prediction {time.monotonic() - started:.0f} s after start"
    )
    print("demo: run it yourself, line by line, on this machine:")
    for line in next_steps(images):
        print(f"  {line}")
    return 0 if overall.accuracy >= 0.95 else 1


def next_steps(images: VariantImages) -> list[str]:
    """The shell lines that train, serve and query the demo's project with docker compose.

    Build settings this machine needed are exported first (so `docker compose build` or
    `up --build` works here too): BASE_IMAGE when it is not the Dockerfile's default, the
    pip configuration (offline: the wheelhouse only) and the CA bundle, as build secrets.
    The last line stops and removes everything, the volumes of every profile included.
    Writes the pip configuration the lines name: ``<project>/../pip.conf`` (outside the
    build context; offline it holds no credentials, only ``no-index`` and the CA's path).
    """
    settings: dict[str, str] = {}
    if images.base_image != upstream_ref(images.variant["python_version"]):
        settings["BASE_IMAGE"] = images.base_image
    pip_conf = build.write_pip_conf(images.project.parent / "pip.conf", with_ca=build.HOST_CA_BUNDLE.is_file())
    settings["BUILD_PIP_CONF"] = str(pip_conf)
    if build.HOST_CA_BUNDLE.is_file():
        settings["BUILD_CA_BUNDLE"] = str(build.HOST_CA_BUNDLE)
    return [
        f"cd {shlex.quote(str(images.project))}",
        "export " + " ".join(f"{key}={shlex.quote(value)}" for key, value in settings.items()),
        "docker compose --profile train run --rm train",
        "docker compose up -d --wait",
        f"curl -F files=@{SAMPLE} http://localhost:{images.serve_port}/v1/predict",
        "docker compose --profile '*' down --volumes",
    ]
