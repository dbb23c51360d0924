"""A scikit-learn pipeline on pixels: StandardScaler + MLPClassifier, exported to ONNX.

The scaler is fitted once (the first stage); the MLP is then trained in mini-batches
with ``partial_fit``, one call per batch, so training can checkpoint at any batch
boundary like the deep-learning frameworks. A checkpoint pickles both fitted stages
(the MLP carries its Adam state), the epoch and the batches done in it; the shuffle of
every epoch is a pure function of (seed, epoch), so a resumed run continues exactly.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import sklearn
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ..checkpoint import CheckpointStore, StopRequest, load_compatible, save_pickle
from ..config import TrainConfig
from ..data import Dataset
from ..export import TrainedModel
from ..progress import Progress
from . import FRAMEWORK, INPUT_NAME, OUTPUT_NAME

HIDDEN_UNITS = (256,)


def train(
    config: TrainConfig, dataset: Dataset, progress: Progress, stop: StopRequest, threads: int
) -> TrainedModel | None:
    """Train (resuming when a checkpoint exists); None when stopped by a signal."""
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
    classes = np.arange(len(dataset.classes))
    state = load_compatible(store, fingerprint, progress) if config.resume else None
    if state is None:
        scaler = StandardScaler().fit(dataset.x_train)
        mlp = MLPClassifier(
            hidden_layer_sizes=HIDDEN_UNITS,
            learning_rate_init=config.learning_rate,
            batch_size=config.batch_size,
            shuffle=False,  # batches are shuffled here, per epoch
            random_state=config.seed,
        )
        start_epoch, start_step = 0, 0
    else:
        scaler, mlp = state["scaler"], state["mlp"]
        start_epoch, start_step = state["epoch"], state["step"]

    def save(epoch: int, step: int) -> None:
        checkpoint = {
            "scaler": scaler,
            "mlp": mlp,
            "epoch": epoch,
            "step": step,
            "fingerprint": fingerprint,
        }
        path = save_pickle(store, epoch, step, checkpoint)
        progress.event("checkpoint", f"saved {path}", path=str(path), epoch=epoch, step=step)

    x_train = scaler.transform(dataset.x_train)
    x_val = scaler.transform(dataset.x_val)
    started = time.monotonic()
    for epoch in range(start_epoch, config.epochs):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(x_train))
        batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
        progress.start_epoch()
        loss_sum, seen = 0.0, 0
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
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                # the last batch of an epoch is smaller than batch_size, which is fine
                warnings.filterwarnings("ignore", "Got `batch_size`", UserWarning)
                mlp.partial_fit(x_train[batch], dataset.y_train[batch], classes=classes)
            loss_sum += mlp.loss_ * len(batch)
            seen += len(batch)
            progress.batch(epoch + 1, config.epochs, step + 1, len(batches), loss_sum / seen)
        done = epoch + 1
        progress.epoch(
            done,
            config.epochs,
            loss=loss_sum / max(seen, 1),
            acc=float(mlp.score(x_train, dataset.y_train)),
            val_acc=float(mlp.score(x_val, dataset.y_val)),
            epochs_this_run=done - start_epoch,
        )
        if done % config.checkpoint_every == 0 or done == config.epochs:
            save(done, 0)

    pipeline = Pipeline([("scaler", scaler), ("mlp", mlp)])
    return TrainedModel(
        framework=FRAMEWORK,
        framework_version=sklearn.__version__,
        onnx_bytes=_to_onnx(pipeline, dataset),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        test_probabilities=pipeline.predict_proba(dataset.x_test),
        extra={
            "epochs": config.epochs,
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
