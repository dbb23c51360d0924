"""From a trained model to a verified model directory.

Every framework hands over its ONNX bytes together with its own class probabilities on
the test split. Before anything is written the ONNX model is run with onnxruntime on the
same inputs and must agree (max absolute difference ``TOLERANCE``); the metrics are
those of the ONNX model, i.e. of what will be served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from . import plots
from .artifacts import Manifest, write_model_dir
from .splits import Dataset

TOLERANCE = 1e-4


class ExportError(RuntimeError):
    """The exported ONNX model is malformed or disagrees with the trained model."""


@dataclass
class TrainedModel:
    framework: str
    framework_version: str
    onnx_bytes: bytes
    input_name: str
    output_name: str  # the probabilities tensor, shape [N, classes]
    test_probabilities: np.ndarray  # [N, classes]: the framework's own output on the test split
    history: list[dict[str, float]] = field(default_factory=list)  # one entry per epoch
    extra: dict[str, Any] = field(default_factory=dict)


def onnx_probabilities(model: TrainedModel, x: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.onnx_bytes, options, providers=["CPUExecutionProvider"])
    inputs = [tensor.name for tensor in session.get_inputs()]
    outputs = [tensor.name for tensor in session.get_outputs()]
    if inputs != [model.input_name]:
        raise ExportError(f"ONNX inputs are {inputs}, expected [{model.input_name!r}]")
    if model.output_name not in outputs:
        raise ExportError(f"ONNX outputs {outputs} do not include {model.output_name!r}")
    # Single examples and the whole split: the batch dimension must be dynamic.
    first = session.run([model.output_name], {model.input_name: x[:1]})[0]
    probabilities = session.run([model.output_name], {model.input_name: x})[0]
    if first.shape[0] != 1 or not np.allclose(first, probabilities[:1], atol=TOLERANCE):
        raise ExportError("ONNX model gives different results for a batch of one")
    return np.asarray(probabilities, dtype=np.float32)


def verify(model: TrainedModel, dataset: Dataset) -> np.ndarray:
    """Run the ONNX model on the test split; return its probabilities if it matches."""
    expected = np.asarray(model.test_probabilities, dtype=np.float32)
    actual = np.concatenate([onnx_probabilities(model, x) for x in dataset.test.chunks()])
    shape = (len(dataset.test), len(dataset.classes))
    if actual.shape != shape:
        raise ExportError(f"ONNX probabilities have shape {actual.shape}, expected {shape}")
    if not np.allclose(actual.sum(axis=1), 1.0, atol=1e-3):
        raise ExportError(f"ONNX output {model.output_name!r} is not a probability distribution")
    diff = float(np.abs(actual - expected).max())
    if diff > TOLERANCE:
        raise ExportError(
            f"ONNX model disagrees with {model.framework}: max abs probability difference "
            f"{diff:.2e} > {TOLERANCE:.0e}"
        )
    return actual


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict[str, Any]:
    per_class = {}
    for index, name in enumerate(classes):
        true_pos = int(np.sum((y_pred == index) & (y_true == index)))
        predicted = int(np.sum(y_pred == index))
        support = int(np.sum(y_true == index))
        precision = true_pos / predicted if predicted else 0.0
        recall = true_pos / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": support,
        }
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    return {
        "accuracy": round(float(np.mean(y_pred == y_true)), 6),
        "macro_f1": round(float(np.mean([row["f1"] for row in per_class.values()])), 6),
        "n_test": len(y_true),
        "per_class": per_class,
        # rows: the true class, columns: the predicted one, in the order of labels.json
        "confusion_matrix": confusion.tolist(),
    }


def write_model(
    target: Path,
    model: TrainedModel,
    dataset: Dataset,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify the ONNX model, then write the model directory with its metrics (test-split
    figures, confusion matrix, the model's per-epoch ``history``) and the plots of
    ``plots.py``; return the metrics."""
    probabilities = verify(model, dataset)
    metrics = classification_metrics(dataset.test.labels, probabilities.argmax(axis=1), dataset.classes)
    metrics["history"] = list(model.history)
    now = now or datetime.now(UTC)
    manifest = Manifest(
        framework=model.framework,
        framework_version=model.framework_version,
        input_name=model.input_name,
        input_shape=[None, *dataset.input_shape],
        output_name=model.output_name,
        preprocessing=dataset.preprocessing,
        data_sha256=dataset.sha256,
        created_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        model_version=f"{now:%Y%m%dT%H%M%SZ}-{dataset.sha256[:8]}",
        extra={
            "n_train": len(dataset.train),
            "n_val": len(dataset.val),
            "onnxruntime_version": ort.__version__,
            **model.extra,
        },
    )
    figures = plots.render(metrics, dataset.classes)
    write_model_dir(target, model.onnx_bytes, dataset.classes, metrics, manifest, extra_files=figures)
    return metrics
