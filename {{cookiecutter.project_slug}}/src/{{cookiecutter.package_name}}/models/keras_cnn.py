"""A small Keras CNN (TensorFlow backend), trained with checkpoints, exported to ONNX.

The training loop is a ``tf.function`` step driven from Python (not ``model.fit``) so
checkpoints can be taken at any batch boundary: a checkpoint holds the weights, the
optimiser's variables, the epoch and the batches done in it, and the shuffle of every
epoch is a pure function of (seed, epoch), so a resumed run continues exactly. The ONNX
model comes from tf2onnx, converting a ``tf.function`` that calls the model (this works
with Keras 3, where converting the Keras model object directly does not).
"""

from __future__ import annotations

import os
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

from ..checkpoint import CheckpointStore, StopRequest, load_compatible, save_pickle  # noqa: E402
from ..config import TrainConfig  # noqa: E402
from ..data import Dataset  # noqa: E402
from ..export import TrainedModel  # noqa: E402
from ..progress import Progress  # noqa: E402
from . import FRAMEWORK, INPUT_NAME, OUTPUT_NAME, small_cnn_stages  # noqa: E402

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


def train(
    config: TrainConfig, dataset: Dataset, progress: Progress, stop: StopRequest, threads: int
) -> TrainedModel | None:
    """Train (resuming when a checkpoint exists); None when stopped by a signal."""
    _configure(threads{% if cookiecutter.accelerator == "cuda" %}, config.device{% endif %})
    keras.utils.set_random_seed(config.seed)
    model = build_model(len(dataset.classes), dataset.input_shape)
    optimizer = keras.optimizers.Adam(learning_rate=config.learning_rate)
    optimizer.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    store = CheckpointStore(config.checkpoint_dir)
    fingerprint = {
        "framework": FRAMEWORK,
        "data_sha256": dataset.sha256,
        "classes": dataset.classes,
        "input_shape": list(dataset.input_shape),
        "val_fraction": config.val_fraction,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
    }

    start_epoch, start_step = 0, 0
    state = load_compatible(store, fingerprint, progress) if config.resume else None
    if state is not None:
        model.set_weights(state["weights"])
        for variable, value in zip(optimizer.variables, state["optimizer"], strict=True):
            variable.assign(value)
        start_epoch, start_step = state["epoch"], state["step"]

    def save(epoch: int, step: int) -> None:
        checkpoint = {
            "weights": model.get_weights(),
            "optimizer": [variable.numpy() for variable in optimizer.variables],
            "epoch": epoch,
            "step": step,
            "fingerprint": fingerprint,
        }
        path = save_pickle(store, epoch, step, checkpoint)
        progress.event("checkpoint", f"saved {path}", path=str(path), epoch=epoch, step=step)

    batch_spec = (
        tf.TensorSpec([None, *dataset.input_shape], tf.float32),
        tf.TensorSpec([None], tf.int64),
    )

    @tf.function(input_signature=batch_spec)
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            probabilities = model(x, training=True)
            loss = loss_fn(y, probabilities)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        correct = tf.reduce_sum(tf.cast(tf.argmax(probabilities, axis=1) == y, tf.int64))
        return loss, correct

    started = time.monotonic()
    for epoch in range(start_epoch, config.epochs):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(dataset.x_train))
        batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        progress.start_epoch()
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(start_step if epoch == start_epoch else 0, len(batches)):
            if stop.requested:
                if store.latest() != store.path_for(epoch, step):  # else saved at epoch end
                    save(epoch, step)
                progress.event(
                    "stopped",
                    f"stopped by {stop.signal_name} at epoch {epoch + 1}, batch {step}; rerun to resume",
                    epoch=epoch,
                    step=step,
                )
                return None
            batch = batches[step]
            loss, batch_correct = train_step(dataset.x_train[batch], dataset.y_train[batch])
            loss_sum += float(loss) * len(batch)
            correct += int(batch_correct)
            seen += len(batch)
            progress.batch(epoch + 1, config.epochs, step + 1, len(batches), loss_sum / seen)
        done = epoch + 1
        val_acc = float((_probabilities(model, dataset.x_val).argmax(axis=1) == dataset.y_val).mean())
        progress.epoch(
            done,
            config.epochs,
            loss=loss_sum / max(seen, 1),
            acc=correct / max(seen, 1),
            val_acc=val_acc,
            epochs_this_run=done - start_epoch,
        )
        if done % config.checkpoint_every == 0 or done == config.epochs:
            save(done, 0)

    return TrainedModel(
        framework=FRAMEWORK,
        framework_version=tf.__version__,
        onnx_bytes=_to_onnx(model, dataset),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        test_probabilities=_probabilities(model, dataset.x_test),
        extra={
            "epochs": config.epochs,
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
