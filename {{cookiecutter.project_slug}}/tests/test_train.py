from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.artifacts import read_model_dir
from {{ cookiecutter.package_name }}.models import FRAMEWORK, LAYOUT
from {{ cookiecutter.package_name }}.splits import dataset_sha256


def test_short_training_run_writes_a_complete_model_dir(runner, digits_dir) -> None:
    result = runner.run()
    assert result.returncode == 0, result.stderr
    events = runner.events(result.stdout)
    epochs = [event for event in events if event["event"] == "epoch"]
    assert [event["epoch"] for event in epochs] == list(range(1, len(epochs) + 1))
    assert {"loss", "acc", "val_acc", "elapsed", "eta"} <= set(epochs[-1])
    start = next(event for event in events if event["event"] == "start")
    assert (start["n_train"], start["n_val"], start["n_test"]) == (1295, 142, 360)
    assert events[-1]["event"] == "done"

    model = read_model_dir(runner.model_dir)
    assert model.labels == [str(digit) for digit in range(10)]
    assert model.metrics["accuracy"] >= 0.9
    assert model.metrics["n_test"] == 360
    assert set(model.metrics["per_class"]["7"]) == {"precision", "recall", "f1", "support"}
    manifest = model.manifest
    assert manifest.framework == FRAMEWORK
    assert manifest.preprocessing.layout == LAYOUT
    assert manifest.preprocessing.size == (8, 8)
    assert manifest.input_shape[0] is None
    assert manifest.data_sha256 == dataset_sha256(digits_dir)
    assert manifest.model_version.endswith(manifest.data_sha256[:8])
    assert manifest.created_at.endswith("Z")
    assert json.loads((runner.model_dir / "labels.json").read_text())[0] == "0"

    confusion = model.metrics["confusion_matrix"]
    assert len(confusion) == 10 and all(len(row) == 10 for row in confusion)
    assert sum(map(sum, confusion)) == 360
    assert [row[index] for index, row in enumerate(confusion)] == [
        round(model.metrics["per_class"][str(index)]["recall"] * sum(row))
        for index, row in enumerate(confusion)
    ]
    assert [entry["epoch"] for entry in model.metrics["history"]] == [event["epoch"] for event in epochs]
    for name in ("history.png", "confusion_matrix.png"):
        with Image.open(runner.model_dir / name) as picture:
            assert picture.format == "PNG" and min(picture.size) >= 200


def test_missing_data_dir_is_materialized(runner, tmp_path) -> None:
    data_dir = tmp_path / "new-data"
    result = runner.run("--epochs", "1", DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    assert runner.events(result.stdout)[0]["event"] == "data"
    assert (data_dir / "train" / "9").is_dir()
    assert read_model_dir(runner.model_dir).manifest.data_sha256 == dataset_sha256(data_dir)


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG that declares ``width`` x ``height`` pixels but holds almost none (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


def _small_tree(root: Path) -> None:
    for split in ("train", "test"):
        for name in ("a", "b"):
            (root / split / name).mkdir(parents=True)
            for index in range(3):
                Image.new("L", (8, 8), 40 * index).save(root / split / name / f"{index}.png")


DATA_FAULTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty class folder": (lambda root: (root / "train" / "c").mkdir(), "train/c has no PNG or JPEG images"),
    "decompression bomb": (
        lambda root: _png_header_only(root / "train" / "a" / "huge.png", 20000, 20000),
        "train/a/huge.png has more than",
    ),
    "not an image": (lambda root: (root / "train" / "b" / "x.png").write_text("hello"), "train/b/x.png"),
    "class only in test": (lambda root: (root / "test" / "z").mkdir(), "classes not in the train split: z"),
    "no train split": (lambda root: __import__("shutil").rmtree(root / "train"), "train is missing"),
}


@pytest.mark.parametrize("fault", list(DATA_FAULTS))
def test_a_data_problem_stops_training_in_one_line_before_it_starts(runner, tmp_path, fault: str) -> None:
    root = tmp_path / "data"
    _small_tree(root)
    damage, fragment = DATA_FAULTS[fault]
    damage(root)
    result = runner.run("--epochs", "1", DATA_DIR=str(root))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0]
    assert not any(event["event"] == "start" for event in runner.events(result.stdout))
    assert not runner.model_dir.exists()
