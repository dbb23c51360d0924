"""A scikit-learn pipeline on pixels: StandardScaler + MLPClassifier, exported to ONNX.

The scaler is fitted once (the first stage); the MLP is then trained in mini-batches
with ``partial_fit``, one call per batch, by the loop every framework shares
(``training.fit``: checkpoints, resume, early stopping). A checkpoint pickles both
fitted stages; the MLP carries its Adam state.
"""

from __future__ import annotations

import pickle
import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import sklearn
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..checkpoint import StopRequest
from ..config import TrainConfig
from ..export import TrainedModel
from ..progress import Progress
from ..splits import Dataset, Split, predict_split, sequential_batches
from ..training import fingerprint, fit
from . import FRAMEWORK, INPUT_NAME, OUTPUT_NAME

HIDDEN_UNITS = (256,)


class PipelineAdapter:
    """The scaler (fitted once, on the train split) and the MLP, for ``training.fit``."""

    def __init__(self, config: TrainConfig, dataset: Dataset) -> None:
        self.classes = np.arange(len(dataset.classes))
        self.scaler = StandardScaler()
        for x in dataset.train.chunks():  # the train split a chunk at a time
            self.scaler.partial_fit(x)
        self.mlp = MLPClassifier(
            hidden_layer_sizes=HIDDEN_UNITS,
            learning_rate_init=config.learning_rate,
            batch_size=config.batch_size,
            shuffle=False,  # the loop shuffles, per epoch
            random_state=config.seed,
        )

    def batches(
        self, split: Split, order: np.ndarray, batch_size: int
    ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        return sequential_batches(split, order, batch_size)  # partial_fit's chunks

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        x = self.scaler.transform(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # the last batch of an epoch is smaller than batch_size, which is fine
            warnings.filterwarnings("ignore", "Got `batch_size`", UserWarning)
            self.mlp.partial_fit(x, y, classes=self.classes)
        return float(self.mlp.loss_), int(np.sum(self.mlp.predict(x) == y))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.mlp.predict_proba(self.scaler.transform(x)), dtype=np.float32)

    def state(self) -> dict[str, Any]:
        return {"scaler": self.scaler, "mlp": self.mlp}  # pickled as they are (the MLP holds its Adam state)

    def restore(self, state: dict[str, Any]) -> None:
        self.scaler, self.mlp = state["scaler"], state["mlp"]

    def weights(self) -> bytes:
        return pickle.dumps(self.state(), protocol=5)

    def load_weights(self, weights: bytes) -> None:
        # Weights are this run's own bytes (in memory or in its checkpoint), never a download.
        self.restore(pickle.loads(weights))  # nosec B301


def train(
    config: TrainConfig, dataset: Dataset, progress: Progress, stop: StopRequest, threads: int
) -> TrainedModel | None:
    """Train (resuming when a checkpoint exists); None when stopped by a signal."""
    adapter = PipelineAdapter(config, dataset)
    started = time.monotonic()
    result = fit(adapter, dataset, config, progress, stop, fingerprint(FRAMEWORK, config, dataset))
    if result is None:
        return None
    pipeline = Pipeline([("scaler", adapter.scaler), ("mlp", adapter.mlp)])
    return TrainedModel(
        framework=FRAMEWORK,
        framework_version=sklearn.__version__,
        onnx_bytes=_to_onnx(pipeline, dataset),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        test_probabilities=predict_split(pipeline.predict_proba, dataset.test),
        history=result.history,
        extra={
            **result.summary(),
            "estimator": "StandardScaler+MLPClassifier",
            "train_seconds": round(time.monotonic() - started, 2),
        },
    )


def _to_onnx(pipeline: Pipeline, dataset: Dataset) -> bytes:
    """ONNX whose ``probabilities`` output is a plain [N, classes] tensor (no ZipMap)."""
    mlp = pipeline.named_steps["mlp"]
    features = int(np.prod(dataset.input_shape))
    onnx_model = to_onnx(
        pipeline,
        initial_types=[(INPUT_NAME, FloatTensorType([None, features]))],
        options={id(mlp): {"zipmap": False}},
    )
    return onnx_model.SerializeToString()
