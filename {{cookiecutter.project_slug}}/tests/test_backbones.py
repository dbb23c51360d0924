"""MODEL: keras.applications backbones with a new head, fine-tuned, exported to ONNX and
served like the small CNN; WEIGHTS_PATH loads a local weights file (nothing downloads
here: random initialisation, and a weights file this test writes itself)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.artifacts import Preprocessing, read_model_dir
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.models.keras_backbones import MIN_SIDE, backbone, build_classifier
from {{ cookiecutter.package_name }}.settings import SettingsError

PRE = Preprocessing(color_mode="L", size=(8, 8), mean=0.3, std=0.2, layout="NHWC")


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "resnet50"])
@pytest.mark.parametrize("input_shape", [(8, 8, 1), (40, 48, 3)], ids=["digits-gray-8x8", "rgb-40x48"])
def test_a_backbone_takes_the_projects_input_and_gives_class_probabilities(
    name: str, input_shape: tuple
) -> None:
    model = build_classifier(name, 9, input_shape, PRE, weights=None)
    x = np.random.default_rng(0).normal(size=(2, *input_shape)).astype(np.float32)
    probabilities = np.asarray(model(x, training=False))
    assert probabilities.shape == (2, 9)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_weights_path_loads_that_file_into_the_backbone(tmp_path: Path) -> None:
    keras.utils.set_random_seed(1)
    saved = backbone("mobilenet_v3_small", (MIN_SIDE, MIN_SIDE, 3), weights=None)
    path = tmp_path / "mobilenet_v3_small.weights.h5"
    saved.save_weights(path)
    keras.utils.set_random_seed(2)  # a different random start, which the file must replace
    model = build_classifier("mobilenet_v3_small", 3, (MIN_SIDE, MIN_SIDE, 3), PRE, weights=path)
    loaded = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    for expected, actual in zip(saved.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_weights_path_must_be_imagenet_none_or_an_existing_file(tmp_path: Path) -> None:
    assert load_config([], environ={"WEIGHTS_PATH": "imagenet"}).weights_path is None
    assert load_config([], environ={"WEIGHTS_PATH": "none"}).weights_path == "none"
    with pytest.raises(SettingsError, match="WEIGHTS_PATH="):
        load_config([], environ={"WEIGHTS_PATH": str(tmp_path / "missing.weights.h5")})
    with pytest.raises(SettingsError, match="MODEL='resnet18'"):
        load_config([], environ={"MODEL": "resnet18"})


def test_a_backbone_trains_exports_and_reports_like_the_small_cnn(runner, shapes_dir: Path) -> None:
    result = runner.run(DATA_DIR=str(shapes_dir), MODEL="mobilenet_v3_small", WEIGHTS_PATH="none", EPOCHS="1")
    assert result.returncode == 0, result.stderr
    events = runner.events(result.stdout)
    assert next(event for event in events if event["event"] == "model")["model"] == "mobilenet_v3_small"
    model = read_model_dir(runner.model_dir)  # written only after the ONNX model matched Keras
    assert model.manifest.extra["model"] == "mobilenet_v3_small"
    assert model.manifest.input_shape == [None, 32, 32, 3]
