from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.artifacts import Preprocessing
from {{ cookiecutter.package_name }}.data import DataError, list_images, preprocess_image
from {{ cookiecutter.package_name }}.datasets import ensure_dataset, materialize
from {{ cookiecutter.package_name }}.splits import dataset_sha256, hold_out, load_dataset


def test_materialized_digits_have_expected_counts_and_classes(digits_dir: Path) -> None:
    splits = list_images(digits_dir)
    assert len(splits["train"]) == 1437
    assert len(splits["test"]) == 360
    classes = sorted(path.name for path in (digits_dir / "train").iterdir())
    assert classes == [str(digit) for digit in range(10)]
    # stratified: every class is in the test split in proportion
    test_counts = np.bincount([label for _, label in splits["test"]], minlength=10)
    assert test_counts.min() >= 35 and test_counts.max() <= 37


def test_materialized_pixels_span_grayscale(digits_dir: Path) -> None:
    image = Image.open(next((digits_dir / "train" / "0").glob("*.png")))
    assert image.mode == "L"
    assert image.size == (8, 8)
    assert np.asarray(image).max() == 255  # 16 scaled to 255


def test_materialize_is_deterministic_per_seed(tmp_path: Path, digits_dir: Path) -> None:
    same = materialize(tmp_path / "same", "digits", seed=0)
    other = materialize(tmp_path / "other", "digits", seed=1)
    assert dataset_sha256(same) == dataset_sha256(digits_dir)
    assert dataset_sha256(other) != dataset_sha256(digits_dir)


def test_materialize_refuses_existing_content_and_leaves_no_staging(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="already has content"):
        materialize(root)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data"]


def test_ensure_dataset_fills_an_empty_directory_once(tmp_path: Path) -> None:
    root = tmp_path / "mounted"
    root.mkdir()  # an empty volume mount point exists before training starts
    assert ensure_dataset(root) is True
    assert ensure_dataset(root) is False
    assert sorted(path.name for path in root.iterdir()) == [".materialize.lock", "test", "train"]


@pytest.mark.parametrize("mount", [True, False], ids=["empty-mount", "missing-root"])
def test_writers_with_separate_tmp_on_one_root_all_succeed(
    tmp_path: Path, digits_dir: Path, mount: bool
) -> None:
    """Training containers (parallel pods, Job retries) share a data volume but not /tmp.

    They start about together and each calls ensure_dataset on the same root: every one must
    exit 0 and the root must hold exactly one complete data set, with nothing staged left.
    """
    root = tmp_path / "data"
    if mount:
        root.mkdir()
    script = (
        "import sys; from pathlib import Path; "
        "from {{ cookiecutter.package_name }}.datasets import ensure_dataset; "
        "print(ensure_dataset(Path(sys.argv[1])))"
    )
    writers = []
    for index in range(6):
        time.sleep(0.4 * bool(index))  # staggered, as containers start: some overlap each phase
        tmp = tmp_path / f"tmp-{index}"
        tmp.mkdir()
        env = {**os.environ, "TMPDIR": str(tmp)}
        command = [sys.executable, "-c", script, str(root)]
        writers.append(
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    results = [(writer.wait(timeout=300), *writer.communicate()) for writer in writers]
    assert [code for code, _, _ in results] == [0] * len(writers), results
    assert "True" in [out.strip() for _, out, _ in results]
    assert dataset_sha256(root) == dataset_sha256(digits_dir)
    assert sorted(path.name for path in root.iterdir() if not path.name.startswith(".")) == ["test", "train"]
    assert not [path for path in tmp_path.rglob("*staging*")]


def test_cli_materializes(tmp_path: Path, runner) -> None:
    result = runner.run("materialize", str(tmp_path / "d"), module="data")
    assert result.returncode == 0, result.stderr
    assert "1437 train and 360 test" in result.stdout


def test_load_dataset_derives_preprocessing(digits_dir: Path) -> None:
    dataset = load_dataset(digits_dir, "NCHW")
    pre = dataset.preprocessing
    assert (pre.color_mode, pre.size, pre.layout) == ("L", (8, 8), "NCHW")
    x_train, _ = dataset.train.arrays()
    assert x_train.shape == (1295, 1, 8, 8)  # 1437 minus 10% of each class (rounded) for validation
    assert dataset.val.arrays()[0].shape == (142, 1, 8, 8)
    assert dataset.test.arrays()[0].shape == (360, 1, 8, 8)
    assert x_train.dtype == np.float32 and dataset.input_shape == (1, 8, 8)
    assert abs(float(x_train.mean())) < 1e-3
    assert abs(float(x_train.std()) - 1.0) < 1e-3
    assert len(dataset.sha256) == 64


@pytest.mark.parametrize(("layout", "shape"), [("NCHW", (1, 8, 8)), ("NHWC", (8, 8, 1)), ("NF", (64,))])
def test_preprocess_image_layouts_and_values(layout: str, shape: tuple[int, ...]) -> None:
    pixels = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    pre = Preprocessing(size=(8, 8), mean=0.25, std=0.5, layout=layout)
    out = preprocess_image(Image.fromarray(pixels).convert("RGB"), pre)
    assert out.shape == shape
    assert out.dtype == np.float32
    expected = (pixels.astype(np.float32) / 255.0 - 0.25) / 0.5
    np.testing.assert_allclose(out.reshape(8, 8), expected, atol=1e-6)


def test_preprocess_image_resizes() -> None:
    image = Image.new("L", (32, 24), color=255)
    out = preprocess_image(image, Preprocessing(size=(8, 8), layout="NF"))
    np.testing.assert_allclose(out, np.ones(64, dtype=np.float32), atol=1e-6)


def test_user_image_folder_with_jpeg_and_named_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("test", 2)):
        for name in ("dog", "cat"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                pixels = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{index}.jpg")
    dataset = load_dataset(tmp_path, "NHWC")
    assert dataset.classes == ["cat", "dog"]
    assert dataset.preprocessing.size == (10, 12)
    assert dataset.preprocessing.color_mode == "RGB"  # color photos give a color model
    assert dataset.train.arrays()[0].shape == (6, 12, 10, 3)  # 8 minus one per class for validation
    assert sorted(dataset.test.labels.tolist()) == [0, 0, 1, 1]
    assert sorted(dataset.val.labels.tolist()) == [0, 1]  # at least one of each class held out


def test_missing_split_is_a_clear_error(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / "train" / name).mkdir(parents=True)
        Image.new("L", (8, 8)).save(tmp_path / "train" / name / "0.png")
    with pytest.raises(DataError, match="test is missing"):
        load_dataset(tmp_path, "NF")


def test_validation_is_a_seeded_stratified_share_of_train(digits_dir: Path) -> None:
    files = list_images(digits_dir)["train"]
    kept, held = hold_out(files, 0.1, seed=0)
    assert sorted(kept + held) == sorted(files) and not set(kept) & set(held)
    per_class = np.bincount([label for _, label in held], minlength=10)
    totals = np.bincount([label for _, label in files], minlength=10)
    assert per_class.tolist() == [round(total * 0.1) for total in totals]
    assert hold_out(files, 0.1, seed=0) == (kept, held)
    assert hold_out(files, 0.1, seed=1)[1] != held


def test_a_val_folder_is_the_validation_split(tmp_path: Path) -> None:
    for split, count in (("train", 4), ("val", 3), ("test", 2)):
        for name in ("a", "b"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for index in range(count):
                Image.new("L", (6, 6), 40 * index).save(folder / f"{index}.png")
    dataset = load_dataset(tmp_path, "NF")
    assert (len(dataset.train), len(dataset.val), len(dataset.test)) == (8, 6, 4)
    assert dataset_sha256(tmp_path) != ""
    (tmp_path / "val" / "c").mkdir()
    with pytest.raises(DataError, match="val has classes not in the train split: c"):
        load_dataset(tmp_path, "NF")
