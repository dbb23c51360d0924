from __future__ import annotations

import json

from {{ cookiecutter.package_name }}.artifacts import read_model_dir
from {{ cookiecutter.package_name }}.data import dataset_sha256
from {{ cookiecutter.package_name }}.models import FRAMEWORK, LAYOUT


def test_short_training_run_writes_a_complete_model_dir(runner, digits_dir) -> None:
    result = runner.run()
    assert result.returncode == 0, result.stderr
    events = runner.events(result.stdout)
    epochs = [event for event in events if event["event"] == "epoch"]
    assert [event["epoch"] for event in epochs] == list(range(1, len(epochs) + 1))
    assert {"loss", "acc", "test_acc", "elapsed", "eta"} <= set(epochs[-1])
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


def test_missing_data_dir_is_materialized(runner, tmp_path) -> None:
    data_dir = tmp_path / "new-data"
    result = runner.run("--epochs", "1", DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    assert runner.events(result.stdout)[0]["event"] == "data"
    assert (data_dir / "train" / "9").is_dir()
    assert read_model_dir(runner.model_dir).manifest.data_sha256 == dataset_sha256(data_dir)
