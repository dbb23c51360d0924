"""The README's main job on the default variant: generate, build, train, serve, predict."""

from __future__ import annotations

import time
from collections.abc import Mapping

from . import smoke
from .engine import find_engine
from .options import variant_id
from .pipeline import prepare
from .sandbox import Sandbox


def run_demo(variant: Mapping[str, str], samples: int = 8) -> int:
    started = time.monotonic()
    engine = find_engine()
    print(f"demo: {variant_id(variant)} with {engine.docker} (daemon {engine.server_version})")
    images = prepare(engine, variant, targets=("train", "serve"))
    print(f"demo: generated project at {images.project}")
    print(f"demo: built {images.image('train')} and {images.image('serve')}")
    with Sandbox(engine, prefix="demo") as box:
        print("demo: training (non-root, read-only root filesystem) ...")
        models, data = smoke.train(box, images)
        url = smoke.serve(box, images, models)
        print(f"demo: serving at {url} (ready)")
        digits = smoke.held_out_digits(box, images, data)
        step = max(1, len(digits) // samples)
        shown = dict(list(sorted(digits.items()))[::step][:samples])
        result = smoke.classify(url, shown)
        for name, truth, label, probability in result.samples:
            print(f"  {name:<28} true {truth}  predicted {label}  p={probability:.3f}")
        overall = smoke.classify(url, digits)
    print(
        f"demo: {overall.correct}/{overall.total} held-out digits right ({overall.accuracy:.1%}); "
        f"first prediction {time.monotonic() - started:.0f} s after start"
    )
    print(f"demo: the project is in {images.project}; run it yourself:")
    print(f"  cd {images.project} && docker compose --profile train run --rm train && docker compose up -d --wait")
    return 0 if overall.accuracy >= 0.95 else 1
