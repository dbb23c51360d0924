{%- set dist = cookiecutter.distributed_training == "torchrun" -%}
{%- set cuda = cookiecutter.accelerator == "cuda" -%}
"""A small PyTorch CNN sized to the input, trained with checkpoints, exported to ONNX with softmax.

The training loop is written out (no Lightning/Trainer) so checkpoints can be taken at
any batch boundary: a checkpoint holds the model and optimiser state, the epoch, the
batches done in it and the RNG state, and the shuffle of every epoch is a pure function
of (seed, epoch), so a resumed run continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

import copy
import logging
{%- if dist %}
import math
{%- endif %}
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
{% if dist %}
from .. import distributed
{%- endif %}
from ..checkpoint import CheckpointStore, StopRequest, load_compatible
from ..config import TrainConfig
from ..data import Dataset
from ..export import TrainedModel
from ..progress import Progress
from . import (
    FRAMEWORK,
    INPUT_NAME,
    OUTPUT_NAME,
    pooled_side,
    small_cnn_stages,
)


class SmallCNN(nn.Module):
    """Convolution stages sized to the input (``small_cnn_stages``), a two-layer classifier; logits."""

    def __init__(self, classes: int, channels: int, height: int, width: int) -> None:
        super().__init__()
        widths = small_cnn_stages(height, width)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, widths[0], kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
        ]
        for before, after in zip(widths, widths[1:], strict=False):
            layers += [
                nn.Conv2d(before, after, kernel_size=3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2, ceil_mode=True),
            ]
        self.features = nn.Sequential(*layers)
        features = widths[-1] * pooled_side(height, len(widths)) * pooled_side(width, len(widths))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(features, 128),
            nn.ReLU(),
            nn.Linear(128, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def train(
    config: TrainConfig, dataset: Dataset, progress: Progress, stop: StopRequest, threads: int
) -> TrainedModel | None:
{%- if dist %}
    """Train (resuming when a checkpoint exists); None when stopped or not rank 0."""
    torch.set_num_threads(threads)
    context = distributed.init({% if cuda %}config.device{% endif %}) if distributed.launched() else None
    try:
        trained = _train(config, dataset, progress, stop, context)
        if context is not None:
            # Every rank leaves the process group together: a rank that tears gloo down
            # while rank 0 still exports the model can abort at exit ("terminate called
            # without an active exception", seen under load).
            distributed.barrier()
        return trained
    finally:
        if context is not None:
            distributed.shutdown()


def _train(
    config: TrainConfig,
    dataset: Dataset,
    progress: Progress,
    stop: StopRequest,
    context: distributed.Context | None,
) -> TrainedModel | None:
    is_main = context is None or context.is_main
    world_size = 1 if context is None else context.world_size
{%- if cuda %}
    device = context.device if context is not None else _device(config.device)
{%- else %}
    device = context.device if context is not None else torch.device("cpu")
{%- endif %}
{%- else %}
    """Train (resuming when a checkpoint exists); None when stopped by a signal."""
    torch.set_num_threads(threads)
{%- if cuda %}
    device = _device(config.device)
{%- else %}
    device = torch.device("cpu")
{%- endif %}
{%- endif %}
    torch.manual_seed(config.seed)
    model = SmallCNN(len(dataset.classes), *dataset.input_shape).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
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
{%- if dist %}
        "world_size": world_size,
{%- endif %}
    }

    start_epoch, start_step = 0, 0
{%- if dist %}
    resume = config.resume and is_main
    state = load_compatible(store, fingerprint, progress, load=_torch_load) if resume else None
    if context is not None:
        state = distributed.broadcast(state, context)
{%- else %}
    state = load_compatible(store, fingerprint, progress, load=_torch_load) if config.resume else None
{%- endif %}
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, start_step = state["epoch"], state["step"]

    def save(epoch: int, step: int) -> None:
{%- if dist %}
        if not is_main:
            return
{%- endif %}
        checkpoint = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "epoch": epoch,
            "step": step,
            "fingerprint": fingerprint,
        }
        path = store.save(epoch, step, lambda handle: torch.save(checkpoint, handle))
        progress.event("checkpoint", f"saved {path}", path=str(path), epoch=epoch, step=step)
{%- if dist %}

    net = distributed.wrap(model, context) if context is not None else model
{%- endif %}

    x_train = torch.from_numpy(dataset.x_train).to(device)
    y_train = torch.from_numpy(dataset.y_train).to(device)
    x_val = torch.from_numpy(dataset.x_val).to(device)
{%- if dist %}
    rank_batch = math.ceil(config.batch_size / world_size)
{%- else %}
    batch_size = config.batch_size
{%- endif %}
    started = time.monotonic()

    for epoch in range(start_epoch, config.epochs):
{%- if dist %}
        if context is not None:
            order = distributed.epoch_indices(len(x_train), epoch, config.seed, context)
        else:
            generator = torch.Generator().manual_seed(config.seed + epoch)
            order = torch.randperm(len(x_train), generator=generator).tolist()
        batches = [order[i : i + rank_batch] for i in range(0, len(order), rank_batch)]
{%- else %}
        generator = torch.Generator().manual_seed(config.seed + epoch)
        order = torch.randperm(len(x_train), generator=generator).tolist()
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
{%- endif %}
        {% if dist %}net{% else %}model{% endif %}.train()
        progress.start_epoch()
        loss_sum, correct, seen = 0.0, 0, 0
        for step in range(start_step if epoch == start_epoch else 0, len(batches)):
{%- if dist %}
            stopping = stop.requested
            if context is not None:
                stopping = distributed.any_rank(stopping, context)
            if stopping:
{%- else %}
            if stop.requested:
{%- endif %}
                if store.latest() != store.path_for(epoch, step):  # else saved at epoch end
                    save(epoch, step)
                progress.event(
                    "stopped",
{%- if dist %}
                    f"stopped by {stop.signal_name or 'another rank'} at epoch {epoch + 1}, "
                    f"batch {step}; rerun to resume",
{%- else %}
                    f"stopped by {stop.signal_name} at epoch {epoch + 1}, batch {step}; rerun to resume",
{%- endif %}
                    epoch=epoch,
                    step=step,
                )
                return None
            index = torch.tensor(batches[step], device=device)
            inputs, targets = x_train[index], y_train[index]
            optimizer.zero_grad(set_to_none=True)
            logits = {% if dist %}net{% else %}model{% endif %}(inputs)
            loss = loss_fn(logits, targets)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(targets)
            correct += int((logits.argmax(dim=1) == targets).sum())
            seen += len(targets)
            progress.batch(epoch + 1, config.epochs, step + 1, len(batches), loss_sum / seen)

{%- if dist %}
        if context is not None:
            loss_sum, correct, seen = distributed.sum_all([loss_sum, correct, seen], context)
{%- endif %}
        done = epoch + 1
{%- if dist %}
        # Rank 0 alone evaluates; the other ranks' progress is silent.
        val_acc = _accuracy(model, x_val, dataset.y_val) if is_main else 0.0
{%- else %}
        val_acc = _accuracy(model, x_val, dataset.y_val)
{%- endif %}
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
{%- if dist %}

    if not is_main:
        return None
{%- endif %}
    return TrainedModel(
        framework=FRAMEWORK,
        framework_version=torch.__version__,
        onnx_bytes=_to_onnx(model, dataset),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        test_probabilities=_probabilities(model, torch.from_numpy(dataset.x_test).to(device)),
        extra={
            "epochs": config.epochs,
{%- if dist %}
            "world_size": world_size,
{%- endif %}
            "train_seconds": round(time.monotonic() - started, 2),
        },
    )
{%- if cuda %}


def _device(setting: str) -> torch.device:
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("DEVICE=cuda but no CUDA device is available")
    if setting == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda")
{%- endif %}


@torch.no_grad()
def _probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    return torch.softmax(model(x), dim=1).cpu().numpy()


def _accuracy(model: nn.Module, x: torch.Tensor, y: np.ndarray) -> float:
    return float((_probabilities(model, x).argmax(axis=1) == y).mean())


def _to_onnx(model: nn.Module, dataset: Dataset) -> bytes:
    """ONNX with softmax included and a dynamic batch dimension."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    exported = nn.Sequential(copy.deepcopy(model), nn.Softmax(dim=1)).cpu().eval()
    example = torch.from_numpy(dataset.x_test[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecations inside torch.export
        program = torch.onnx.export(
            exported,
            (example,),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
            verbose=False,
        )
    return program.model_proto.SerializeToString()


def _torch_load(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)
