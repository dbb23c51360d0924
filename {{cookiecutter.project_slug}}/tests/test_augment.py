"""AUGMENT: the standard transforms on the train split only, drawn from (seed, epoch,
index), leaving the model's input shape, range and the serving preprocessing alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.artifacts import read_model_dir
from {{ cookiecutter.package_name }}.augment import Augmentation, from_setting
from {{ cookiecutter.package_name }}.data import value_range
from {{ cookiecutter.package_name }}.splits import load_dataset


def _gradient(size: tuple[int, int] = (24, 16)) -> Image.Image:
    width, height = size
    x, y = np.meshgrid(np.linspace(0, 255, width), np.linspace(0, 255, height))
    return Image.fromarray(np.stack([x, y, 255 - x], axis=-1).astype(np.uint8), "RGB")


def test_off_is_no_augmentation_and_unknown_values_are_refused() -> None:
    assert from_setting("off") is None
    assert from_setting("standard") == Augmentation(flip=False)
    assert from_setting("standard+flip") == Augmentation(flip=True)
    with pytest.raises(ValueError, match="unknown augmentation"):
        from_setting("heavy")


def test_each_draw_depends_on_seed_epoch_and_index_only(digits_dir: Path) -> None:
    split = load_dataset(digits_dir, "NCHW").train
    augmentation = from_setting("standard")
    first = split.augmented(augmentation, seed=0, epoch=1)
    again = split.augmented(augmentation, seed=0, epoch=1)
    np.testing.assert_array_equal(first.example(7), again.example(7))
    assert not np.array_equal(first.example(7), split.augmented(augmentation, 0, 2).example(7))
    assert not np.array_equal(first.example(7), split.augmented(augmentation, 1, 1).example(7))
    np.testing.assert_array_equal(split.augmented(None, 0, 1).example(7), split.example(7))


def test_augmented_examples_keep_shape_dtype_and_range(shapes_dir: Path) -> None:
    dataset = load_dataset(shapes_dir, "NHWC")
    low, high = value_range(dataset.preprocessing)
    augmented = dataset.train.augmented(from_setting("standard+flip"), seed=0, epoch=0)
    for index in range(20):
        x = augmented.example(index)
        assert x.shape == dataset.input_shape and x.dtype == np.float32
        assert low - 1e-5 <= float(x.min()) and float(x.max()) <= high + 1e-5


@pytest.mark.parametrize("flip", [False, True])
def test_the_transforms_change_the_image_and_flip_only_when_asked(flip: bool) -> None:
    image = _gradient()
    augmentation = Augmentation(flip=flip)
    draws = [np.asarray(augmentation(image, np.random.default_rng(seed))) for seed in range(40)]
    assert all(draw.shape == (16, 24, 3) for draw in draws)
    assert all(not np.array_equal(draw, np.asarray(image)) for draw in draws)
    # A mirrored gradient runs the other way: red falls from left to right.
    falling = sum(int(draw[8, 2, 0]) > int(draw[8, -3, 0]) for draw in draws)
    assert (falling > 0) == flip


def test_training_with_augmentation_keeps_the_serving_preprocessing(runner, tmp_path: Path) -> None:
    plain = runner.run(EPOCHS="3", MODEL_DIR=str(tmp_path / "plain"), CHECKPOINT_DIR=str(tmp_path / "c1"))
    augmented = runner.run(
        EPOCHS="3",
        AUGMENT="standard",
        MODEL_DIR=str(tmp_path / "augmented"),
        CHECKPOINT_DIR=str(tmp_path / "c2"),
    )
    assert plain.returncode == 0 and augmented.returncode == 0, augmented.stderr
    plain_model, augmented_model = read_model_dir(tmp_path / "plain"), read_model_dir(tmp_path / "augmented")
    assert augmented_model.manifest.preprocessing == plain_model.manifest.preprocessing
    assert augmented_model.metrics["history"] != plain_model.metrics["history"]
    assert augmented_model.metrics["accuracy"] >= 0.8
