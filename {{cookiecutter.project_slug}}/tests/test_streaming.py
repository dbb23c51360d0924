"""Training reads the images from disk a batch at a time: its memory does not grow with the
number of images (every split is decoded one image per thread at a time, never kept)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from {{ cookiecutter.package_name }}.artifacts import read_model_dir

SIDE = 256  # each image decodes to 192 KiB: 900 more of them held at once would add 169 MiB


def _tree(root: Path, per_class: int) -> Path:
    """Two classes of SIDE x SIDE RGB images (red or blue, brightness by index), PNGs that
    compress to a few KiB, and a test split of 10 per class."""
    ramp = np.linspace(0, 1, SIDE, dtype=np.float32)[np.newaxis, :, np.newaxis]
    for split, count in (("train", per_class), ("test", 10)):
        for label, color in enumerate(((255, 40, 40), (40, 40, 255))):
            folder = root / split / f"class{label}"
            folder.mkdir(parents=True)
            for index in range(count):
                shade = 0.5 + 0.5 * index / count
                pixels = np.broadcast_to(ramp * shade * np.array(color, dtype=np.float32), (SIDE, SIDE, 3))
                Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{index}.png")
    return root


def _peak_memory_mib(runner, data_dir: Path, name: str) -> float:
    """Peak resident memory of one training run (one epoch at 16x16), as its done event
    reports it (the kernel's VmHWM of the process)."""
    model_dir = runner.workdir / f"model-{name}"
    result = runner.run(
        DATA_DIR=str(data_dir),
        MODEL_DIR=str(model_dir),
        CHECKPOINT_DIR=str(runner.workdir / f"checkpoints-{name}"),
        EPOCHS="1",
        IMAGE_SIZE="16",
    )
    assert result.returncode == 0, result.stderr
    assert read_model_dir(model_dir).metrics["n_test"] == 20
    done = runner.events(result.stdout)[-1]
    assert done["event"] == "done" and done["peak_memory_mib"] > 0
    return done["peak_memory_mib"]


def test_training_memory_does_not_grow_with_the_number_of_images(runner, tmp_path: Path) -> None:
    base = _peak_memory_mib(runner, _tree(tmp_path / "base", per_class=150), "base")
    four_times = _peak_memory_mib(runner, _tree(tmp_path / "large", per_class=600), "large")
    print(f"peak memory: {base:.0f} MiB on 300 images, {four_times:.0f} MiB on 1,200")
    assert four_times <= 1.1 * base, (
        f"peak memory {four_times:.0f} MiB on 4x the images, {base:.0f} MiB on the base"
    )
