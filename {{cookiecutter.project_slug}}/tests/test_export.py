"""The exported ONNX model agrees with the model it came from, whatever the framework."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.checkpoint import StopRequest
from {{ cookiecutter.package_name }}.config import load_config
from {{ cookiecutter.package_name }}.data import list_images, preprocess_image
from {{ cookiecutter.package_name }}.export import TOLERANCE, ExportError, TrainedModel, verify
from {{ cookiecutter.package_name }}.models import LAYOUT, OUTPUT_NAME, train
from {{ cookiecutter.package_name }}.progress import Progress
from {{ cookiecutter.package_name }}.splits import Dataset, load_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, digits_dir: Path) -> tuple[TrainedModel, Dataset]:
    workdir = tmp_path_factory.mktemp("export")
    dataset = load_dataset(digits_dir, LAYOUT)
    config = load_config(
        ["--epochs", "2", "--checkpoint-dir", str(workdir / "checkpoints"), "--threads", "1"],
        environ={},
    )
    model = train(config, dataset, Progress("json", stream=io.StringIO()), StopRequest(), threads=1)
    assert model is not None
    return model, dataset


def test_onnx_probabilities_match_the_framework(trained: tuple[TrainedModel, Dataset]) -> None:
    model, dataset = trained
    probabilities = verify(model, dataset)
    assert probabilities.shape == (360, 10)
    assert np.abs(probabilities - model.test_probabilities).max() <= TOLERANCE
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)


def test_onnx_has_dynamic_batch_and_named_probabilities(trained: tuple[TrainedModel, Dataset]) -> None:
    model, dataset = trained
    session = ort.InferenceSession(model.onnx_bytes, providers=["CPUExecutionProvider"])
    (tensor,) = session.get_inputs()
    assert tensor.name == model.input_name
    assert not isinstance(tensor.shape[0], int)  # symbolic batch dimension
    assert list(tensor.shape[1:]) == list(dataset.input_shape)
    assert model.output_name == OUTPUT_NAME
    for batch in (1, 7):
        (out,) = session.run([OUTPUT_NAME], {tensor.name: dataset.test.batch(range(batch))[0]})
        assert out.shape == (batch, 10)


def test_verify_rejects_a_disagreeing_model(trained: tuple[TrainedModel, Dataset]) -> None:
    model, dataset = trained
    shifted = np.roll(model.test_probabilities, 1, axis=1)
    with pytest.raises(ExportError, match="disagrees"):
        verify(dataclasses.replace(model, test_probabilities=shifted), dataset)


def test_image_file_through_preprocess_image_gives_the_training_input(
    trained: tuple[TrainedModel, Dataset], digits_dir: Path
) -> None:
    # The server feeds files through preprocess_image with the manifest's preprocessing.
    _, dataset = trained
    path, label = list_images(digits_dir)["test"][5]
    with Image.open(path) as image:
        x = preprocess_image(image, dataset.preprocessing)
    np.testing.assert_array_equal(x, dataset.test.example(5))
    assert label == dataset.test.labels[5]
