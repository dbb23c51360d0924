{%- set dist = cookiecutter.distributed_training == "torchrun" -%}
{%- set cuda = cookiecutter.accelerator == "cuda" -%}
"""A small PyTorch CNN sized to the input, trained with checkpoints, exported to ONNX with softmax.

The loop every framework shares (``training.fit``; no Lightning/Trainer) drives it, so
checkpoints can be taken at any batch boundary; a checkpoint holds the model and
optimiser state and the RNG state, written with ``torch.save``.
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
{% if dist %}
from .. import distributed
{%- endif %}
from ..checkpoint import StopRequest
from ..config import TrainConfig
from ..export import TrainedModel
from ..progress import Progress
from ..splits import Dataset, Split, predict_split
from ..training import fingerprint, fit
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


class TorchAdapter:
{%- if dist %}
    """A PyTorch model, its Adam optimiser and loss, for ``training.fit``; ``net`` is what
    trains (the model itself, or its DistributedDataParallel wrapper)."""
{%- else %}
    """A PyTorch model, its Adam optimiser and loss, for ``training.fit``."""
{%- endif %}

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        device: torch.device,
        workers: int,
        net: nn.Module | None = None,
    ) -> None:
        self.model = model
        self.net = net or model
        self.device = device
        self.workers = workers
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        self.loss_fn = nn.CrossEntropyLoss()

    def batches(
        self, split: Split, order: np.ndarray, batch_size: int
    ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """A ``DataLoader``: ``workers`` processes decode the next batches while one trains."""
        return DataLoader(
            _Examples(split, order),
            batch_size=batch_size,
            shuffle=False,  # ``order`` is the epoch's shuffle
            num_workers=self.workers,
            collate_fn=_stack,
            prefetch_factor=2 if self.workers else None,
        )

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        inputs = torch.from_numpy(x).to(self.device)
        targets = torch.from_numpy(y).to(self.device)
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.net(inputs)
        loss = self.loss_fn(logits, targets)
        loss.backward()
        self.optimizer.step()
        return float(loss.item()), int((logits.argmax(dim=1) == targets).sum())

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _probabilities(self.model, torch.from_numpy(x).to(self.device))

    def state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["torch_rng"])

    def weights(self) -> dict[str, torch.Tensor]:
        return {name: tensor.detach().clone() for name, tensor in self.model.state_dict().items()}

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        self.model.load_state_dict(weights)


class _Examples(torch.utils.data.Dataset):
    """The examples ``order`` of a split, as (x, y) pairs, for a DataLoader."""

    def __init__(self, split: Split, order: np.ndarray) -> None:
        self.split, self.order = split, order

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, position: int) -> tuple[np.ndarray, int]:
        index = int(self.order[position])
        return self.split.example(index), int(self.split.labels[index])


def _stack(examples: list[tuple[np.ndarray, int]]) -> tuple[np.ndarray, np.ndarray]:
    return np.stack([x for x, _ in examples]), np.array([y for _, y in examples], dtype=np.int64)


def loader_workers(threads: int) -> int:
    """DataLoader worker processes for a run of ``threads`` CPU threads: one less than the
    threads (the main process trains), at most 4; none on a single thread."""
    return min(4, threads - 1) if threads > 1 else 0


def train(
    config: TrainConfig, dataset: Dataset, progress: Progress, stop: StopRequest, threads: int
) -> TrainedModel | None:
{%- if dist %}
    """Train (resuming when a checkpoint exists); None when stopped or not rank 0."""
    torch.set_num_threads(threads)
    context = distributed.init({% if cuda %}config.device{% endif %}) if distributed.launched() else None
    try:
        trained = _train(config, dataset, progress, stop, context, threads)
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
    threads: int,
) -> TrainedModel | None:
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
{%- if cuda %}
    progress.event("device", _device_text(device), device=str(device))
{%- endif %}
    torch.manual_seed(config.seed)
    model = SmallCNN(len(dataset.classes), *dataset.input_shape).to(device)
{%- if dist %}
    net = distributed.wrap(model, context) if context is not None else None
    adapter = TorchAdapter(model, config, device, loader_workers(threads), net)
    identity = fingerprint(FRAMEWORK, config, dataset, world_size=world_size)
    parallel = distributed.Torchrun(context) if context is not None else None
    started = time.monotonic()
    result = fit(
        adapter, dataset, config, progress, stop, identity, parallel, write=torch.save, read=_torch_load
    )
{%- else %}
    adapter = TorchAdapter(model, config, device, loader_workers(threads))
    identity = fingerprint(FRAMEWORK, config, dataset)
    started = time.monotonic()
    result = fit(adapter, dataset, config, progress, stop, identity, write=torch.save, read=_torch_load)
{%- endif %}
    if result is None:
        return None
    return TrainedModel(
        framework=FRAMEWORK,
        framework_version=torch.__version__,
        onnx_bytes=_to_onnx(model, dataset),
        input_name=INPUT_NAME,
        output_name=OUTPUT_NAME,
        test_probabilities=predict_split(adapter.predict, dataset.test),
        history=result.history,
        extra={
            **result.summary(),
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


def _device_text(device: torch.device) -> str:
    """Which device trains, said plainly: a GPU by name, or the CPU and why."""
    if device.type == "cuda":
        return f"training on {device} ({torch.cuda.get_device_name(device)})"
    if torch.cuda.is_available():
        return "training on the CPU (DEVICE=cpu)"
    return "training on the CPU: no CUDA device is available"
{%- endif %}


@torch.no_grad()
def _probabilities(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    model.eval()
    return torch.softmax(model(x), dim=1).cpu().numpy()


def _to_onnx(model: nn.Module, dataset: Dataset) -> bytes:
    """ONNX with softmax included and a dynamic batch dimension."""
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    exported = nn.Sequential(copy.deepcopy(model), nn.Softmax(dim=1)).cpu().eval()
    example = torch.from_numpy(dataset.test.batch(range(min(2, len(dataset.test))))[0])
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
