"""Keras models (TensorFlow backend), trained with checkpoints, exported to ONNX: the small
CNN here, or a keras.applications backbone (``keras_backbones``, MODEL).

A compiled ``tf.function`` step is driven by the loop every framework shares
(``training.fit``, not ``model.fit``), so checkpoints can be taken at any batch boundary;
a checkpoint holds the weights and the optimiser's variables. The ONNX
model comes from tf2onnx, converting a ``tf.function`` that calls the model (this works
with Keras 3, where converting the Keras model object directly does not).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from ..checkpoint import StopRequest  # noqa: E402
from ..config import RANDOM_WEIGHTS, TrainConfig  # noqa: E402
from ..export import TrainedModel  # noqa: E402
from ..progress import Progress  # noqa: E402
from ..splits import Dataset, Split, predict_split  # noqa: E402
from ..training import fingerprint, fit  # noqa: E402
from . import FRAMEWORK, INPUT_NAME, OUTPUT_NAME, small_cnn_stages  # noqa: E402
from .keras_backbones import build_classifier  # noqa: E402

ONNX_OPSET = 17


def build_model(classes: int, input_shape: tuple[int, ...]) -> keras.Model:
    """Convolution stages sized to the (height, width, channels) input (``small_cnn_stages``),
    a two-layer classifier and softmax."""
    widths = small_cnn_stages(input_shape[0], input_shape[1])
    layers = [
        keras.Input(shape=input_shape, name=INPUT_NAME),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(widths[0], 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2, padding="same"),
    ]
    for width in widths[1:]:
        layers += [
            keras.layers.Conv2D(width, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2, padding="same"),
        ]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(classes, activation="softmax"),
    ]
    return keras.Sequential(layers, name="small_cnn")


class KerasAdapter:
    """A Keras model, its Adam optimiser and a compiled training step, for ``training.fit``."""

    def __init__(
        self, model: keras.Model, config: TrainConfig, input_shape: tuple[int, ...], threads: int
    ) -> None:
        self.model = model
        self.input_shape = input_shape
        self.threads = threads
        self.optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
        self.optimizer.build(model.trainable_variables)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        batch_spec = (tf.TensorSpec([None, *input_shape], tf.float32), tf.TensorSpec([None], tf.int64))

        @tf.function(input_signature=batch_spec)
        def step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            with tf.GradientTape() as tape:
                probabilities = model(x, training=True)
                loss = loss_fn(y, probabilities)
            gradients = tape.gradient(loss, model.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            correct = tf.reduce_sum(tf.cast(tf.argmax(probabilities, axis=1) == y, tf.int64))
            return loss, correct

        self._step = step

    def batches(
        self, split: Split, order: np.ndarray, batch_size: int
    ) -> Iterable[tuple[tf.Tensor, tf.Tensor]]:
        """A ``tf.data`` pipeline: images decoded by ``threads`` parallel calls, in order, one
        batch prefetched."""
        labels = tf.constant(split.labels)

        def read(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            x = tf.numpy_function(lambda i: split.example(int(i)), [index], tf.float32, stateful=False)
            x.set_shape(self.input_shape)
            return x, tf.gather(labels, index)

        pipeline = tf.data.Dataset.from_tensor_slices(order.astype(np.int64))
        pipeline = pipeline.map(read, num_parallel_calls=self.threads, deterministic=True)
        return pipeline.batch(batch_size).prefetch(1)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        loss, correct = self._step(x, y)
        return float(loss), int(correct)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _probabilities(self.model, x)

    def state(self) -> dict[str, Any]:
        return {
            "weights": self.model.get_weights(),
            "optimizer": [variable.numpy() for variable in self.optimizer.variables],
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.set_weights(state["weights"])
        for variable, value in zip(self.optimizer.variables, state["optimizer"], strict=True):
            variable.assign(value)

    def weights(self) -> list[np.ndarray]:
        return self.model.get_weights()  # copies

    def load_weights(self, weights: list[np.ndarray]) -> None:
        self.model.set_weights(weights)


def train(
    config: TrainConfig, dataset: Dataset, progress: Progress, stop: StopRequest, threads: int
) -> TrainedModel | None:
    """Train (resuming when a checkpoint exists); None when stopped by a signal."""
    _configure(threads{% if cookiecutter.accelerator == "cuda" %}, config.device{% endif %})
{%- if cookiecutter.accelerator == "cuda" %}
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        progress.event("device", f"training on {gpus[0].name}", device=gpus[0].name)
    else:
        reason = "DEVICE=cpu" if config.device == "cpu" else "TensorFlow sees no GPU"
        progress.event("device", f"training on the CPU ({reason})", device="cpu")
{%- endif %}
    keras.utils.set_random_seed(config.seed)
    if config.model == "small_cnn":
        model = build_model(len(dataset.classes), dataset.input_shape)
    else:
        weights = "imagenet" if config.weights_path is None else config.weights_path
        model = build_classifier(
            config.model,
            len(dataset.classes),
            dataset.input_shape,
            dataset.preprocessing,
            None if weights == RANDOM_WEIGHTS else weights,
        )
        progress.event(
            "model",
            f"{config.model} from keras.applications, starting from "
            + ("random weights" if weights == RANDOM_WEIGHTS else f"{weights} weights"),
            model=config.model,
            weights=str(weights),
        )
    adapter = KerasAdapter(model, config, dataset.input_shape, threads)
    started = time.monotonic()
    identity = fingerprint(FRAMEWORK, config, dataset, model=config.model, weights=str(config.weights_path))
    result = fit(adapter, dataset, config, progress, stop, identity)
    if result is None:
        return None
    return TrainedModel(
        framework=FRAMEWORK,
        framework_version=tf.__version__,
        onnx_bytes=_to_onnx(model, dataset),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        test_probabilities=predict_split(adapter.predict, dataset.test),
        history=result.history,
        extra={
            **result.summary(),
            "model": config.model,
            "keras_version": keras.__version__,
            "tf2onnx_version": tf2onnx.__version__,
            "train_seconds": round(time.monotonic() - started, 2),
        },
    )
{%- if cookiecutter.accelerator == "cuda" %}


def _configure(threads: int, device: str) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        tf.config.experimental.enable_op_determinism()
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
    except RuntimeError:
        pass  # TensorFlow was already initialised in this process; keep its settings
    if device == "cuda" and not tf.config.list_physical_devices("GPU"):
        raise RuntimeError("DEVICE=cuda but TensorFlow sees no GPU")
{%- else %}


def _configure(threads: int) -> None:
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        tf.config.experimental.enable_op_determinism()
    except RuntimeError:
        pass  # TensorFlow was already initialised in this process; keep its settings
{%- endif %}


def _probabilities(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model(x, training=False), dtype=np.float32)


def _to_onnx(model: keras.Model, dataset: Dataset) -> bytes:
    """ONNX of the softmax output with a dynamic batch dimension."""
    signature = (tf.TensorSpec([None, *dataset.input_shape], tf.float32, name=INPUT_NAME),)

    @tf.function(input_signature=signature)
    def serve(x: tf.Tensor) -> dict[str, tf.Tensor]:
        return {OUTPUT_NAME: model(x, training=False)}

    onnx_model, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=ONNX_OPSET)
    return onnx_model.SerializeToString()
