{%- set dist = cookiecutter.distributed_training == "torchrun" -%}
"""The training loop, one for every framework: seeded shuffles, checkpoints at any batch
boundary, SIGTERM, resume, validation, early stopping and selection of the best epoch.

A framework brings an ``Adapter`` (models/torch_cnn.py, keras_cnn.py, sklearn_pipeline.py):
one optimisation step, class probabilities, and its state to checkpoint and restore. This
module does everything else, so the frameworks train, shuffle, stop and resume alike.

- The shuffle of an epoch is a pure function of (seed, epoch) (``epoch_order``), so a
  resumed run continues exactly where the interrupted one stopped.
- A checkpoint holds the adapter's state, the epoch and the batches done in it, the
  partial epoch's running sums, the best epoch so far and the history, so a resumed run
  reports the same history as an uninterrupted one.
- After every epoch the validation split is scored; the epoch with the lowest validation
  loss is kept, and with ``PATIENCE`` > 0 training stops once that many epochs pass
  without a lower one (early stopping on the validation loss, the best weights restored).
  The test split is not seen here: the caller evaluates it once, on the kept weights.
{%- if dist %}
- Under torchrun every process trains on its share of each epoch's shuffle (``Parallel``);
  the main process alone reads checkpoints, scores the validation split and writes.
{%- endif %}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from .augment import from_setting
from .checkpoint import CheckpointStore, StopRequest, load_compatible, load_pickle, write_pickle
from .config import TrainConfig
from .progress import Progress
from .splits import Dataset, Split, predict_split

CHECKPOINT_FORMAT = 2  # what a checkpoint holds; older ones are not resumed from


class Adapter(Protocol):
    """What the loop needs of a framework's model and optimiser."""

    def batches(
        self, split: Split, order: np.ndarray, batch_size: int
    ) -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """(x, y) for the examples ``order[i : i + batch_size]`` of ``split``, for i = 0,
        batch_size, ...: read from disk with the framework's own loader while training runs
        (``splits.sequential_batches`` where there is none)."""
        ...

    def train_step(self, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        """One optimisation step on a batch (x: [B, *example shape] float32, y: [B] int64
        class indices); returns (mean loss, correctly classified examples)."""
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities [N, classes] float32 for x [N, *example shape], in eval mode."""
        ...

    def state(self) -> Any:
        """Everything training continues from (model, optimiser, RNG), for a checkpoint."""
        ...

    def restore(self, state: Any) -> None:
        """Continue from what ``state`` returned (possibly in another process)."""
        ...

    def weights(self) -> Any:
        """A copy of the model's weights, unaffected by later steps."""
        ...

    def load_weights(self, weights: Any) -> None:
        """Put back what ``weights`` returned."""
        ...


{%- if dist %}


class Parallel:
    """How the processes of a run share the work; this one is a single process.

    ``distributed.Torchrun`` overrides it for data-parallel training with torchrun.
    """

    rank = 0
    world_size = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on one (a SIGTERM on one rank)."""
        return flag

    def sum(self, values: list[float]) -> list[float]:
        return values

    def broadcast(self, obj: Any) -> Any:
        """The main process's ``obj``."""
        return obj
{%- endif %}


@dataclass
class FitResult:
    """What ``fit`` did; the adapter holds the weights of ``best_epoch``."""

    history: list[dict[str, float]]
    best_epoch: int
    epochs_run: int
    stopped_early: bool

    def summary(self) -> dict[str, Any]:
        """For the manifest: epochs trained, the epoch kept, and whether patience ran out."""
        return {"epochs": self.epochs_run, "best_epoch": self.best_epoch, "stopped_early": self.stopped_early}


{%- if dist %}


def epoch_order(size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    """Indices of this process's examples for ``epoch``, in training order.

    One seeded permutation of ``range(size)`` per (seed, epoch); with several processes it
    is padded by repeating its start to a multiple of ``world_size`` and dealt out
    round-robin, so every process has the same number of examples (as torch's
    ``DistributedSampler`` does).
    """
    order = np.random.default_rng([seed, epoch]).permutation(size)
    if world_size > 1:
        order = np.resize(order, math.ceil(size / world_size) * world_size)[rank::world_size]
    return order
{%- else %}


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The examples' indices for ``epoch`` in training order: one seeded permutation of
    ``range(size)`` per (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(size)
{%- endif %}


def fingerprint(framework: str, config: TrainConfig, dataset: Dataset, **extra: Any) -> dict[str, Any]:
    """What must be unchanged for a checkpoint to continue: data, classes, shapes and the
    settings that shape the trajectory."""
    return {
        "checkpoint_format": CHECKPOINT_FORMAT,
        "framework": framework,
        "data_sha256": dataset.sha256,
        "classes": dataset.classes,
        "input_shape": list(dataset.input_shape),
        "val_fraction": config.val_fraction,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "augment": config.augment,
        **extra,
    }


def fit(
    adapter: Adapter,
    dataset: Dataset,
    config: TrainConfig,
    progress: Progress,
    stop: StopRequest,
    identity: dict[str, Any],
{%- if dist %}
    parallel: Parallel | None = None,
{%- endif %}
    write: Callable[[dict[str, Any], IO[bytes]], None] = write_pickle,
    read: Callable[[Path], dict[str, Any]] = load_pickle,
) -> FitResult | None:
    """Train ``adapter`` on ``dataset``'s train split for ``config.epochs`` epochs.

    ``identity`` is the run's ``fingerprint``; ``write``/``read`` store a checkpoint dict
    (pickle unless the framework has its own format). Returns None when stopped by a
{%- if dist %}
    signal (a checkpoint was saved) and on every process but the main one; otherwise the
    adapter holds the best epoch's weights.
    """
    parallel = parallel or Parallel()
    store = CheckpointStore(config.checkpoint_dir)
    batch_size = math.ceil(config.batch_size / parallel.world_size)  # each process's share
    state = None
    if config.resume and parallel.is_main:
        state = load_compatible(store, identity, progress, load=read)
    state = parallel.broadcast(state)
{%- else %}
    signal (a checkpoint was saved); otherwise the adapter holds the best epoch's weights.
    """
    store = CheckpointStore(config.checkpoint_dir)
    batch_size = config.batch_size
    state = load_compatible(store, identity, progress, load=read) if config.resume else None
{%- endif %}

    start_epoch, start_step, partial = 0, 0, [0.0, 0, 0]
    history: list[dict[str, float]] = []
    best: dict[str, Any] | None = None  # epoch, val_loss, val_acc, weights
    if state is not None:
        adapter.restore(state["model"])
        start_epoch, start_step = state["epoch"], state["step"]
        partial = list(state.get("partial", partial))
        history, best = list(state.get("history", [])), state.get("best")

    def save(epoch: int, step: int, sums: list[float]) -> None:
{%- if dist %}
        if not parallel.is_main:
            return
{%- endif %}
        checkpoint = {
            "model": adapter.state(),
            "epoch": epoch,
            "step": step,
            "partial": [float(value) for value in sums],
            "history": history,
            "best": best,
            "fingerprint": identity,
        }
        path = store.save(epoch, step, lambda handle: write(checkpoint, handle))
        progress.event("checkpoint", f"saved {path}", path=str(path), epoch=epoch, step=step)

    def score(done: int, sums: list[float]) -> None:
        """Score the validation split after epoch ``done``; keep the weights if it is the best."""
        nonlocal best
        loss_sum, correct, seen = sums
        val_loss, val_acc = evaluate(predict_split(adapter.predict, dataset.val), dataset.val.labels)
        entry = {
            "epoch": done,
            "loss": round(loss_sum / max(seen, 1), 6),
            "acc": round(correct / max(seen, 1), 6),
            "val_loss": round(val_loss, 6),
            "val_acc": round(val_acc, 6),
        }
        history.append(entry)
        if best is None or val_loss < best["val_loss"]:
            best = {"epoch": done, "val_loss": val_loss, "val_acc": val_acc, "weights": adapter.weights()}
        progress.epoch(done, config.epochs, entry, epochs_this_run=done - start_epoch)

    augmentation = from_setting(config.augment)
    stopped_early = False
    for epoch in range(start_epoch, config.epochs):
{%- if dist %}
        if parallel.broadcast(_patience_ran_out(best, epoch, config.patience)):
            stopped_early = True
            if best is not None:  # the main process
{%- else %}
        if _patience_ran_out(best, epoch, config.patience):
            stopped_early = True
            if best is not None:
{%- endif %}
                progress.event(
                    "early_stop",
                    f"validation loss has not improved for {epoch - best['epoch']} epochs "
                    f"(PATIENCE={config.patience}); stopping after epoch {epoch} of {config.epochs}",
                    epoch=epoch,
                    best_epoch=best["epoch"],
                )
            break
{%- if dist %}
        order = epoch_order(len(dataset.train), config.seed, epoch, parallel.rank, parallel.world_size)
{%- else %}
        order = epoch_order(len(dataset.train), config.seed, epoch)
{%- endif %}
        steps = math.ceil(len(order) / batch_size)
        first = start_step if epoch == start_epoch else 0
        sums = partial if epoch == start_epoch else [0.0, 0, 0]  # loss sum, correct, seen
        progress.start_epoch()
        train = dataset.train.augmented(augmentation, config.seed, epoch)
        loader = iter(adapter.batches(train, order[first * batch_size :], batch_size))
        for step in range(first, steps):
{%- if dist %}
            if parallel.any(stop.requested):
{%- else %}
            if stop.requested:
{%- endif %}
                if store.latest() != store.path_for(epoch, step):  # else saved at epoch end
                    save(epoch, step, sums)
                progress.event(
                    "stopped",
{%- if dist %}
                    f"stopped by {stop.signal_name or 'another process'} at epoch {epoch + 1}, "
                    f"batch {step}; rerun to resume",
{%- else %}
                    f"stopped by {stop.signal_name} at epoch {epoch + 1}, batch {step}; rerun to resume",
{%- endif %}
                    epoch=epoch,
                    step=step,
                )
                return None
            x, y = next(loader)
            loss, correct = adapter.train_step(x, y)
            sums = [sums[0] + loss * len(y), sums[1] + correct, sums[2] + len(y)]
            progress.batch(epoch + 1, config.epochs, step + 1, steps, sums[0] / sums[2])
        done = epoch + 1
{%- if dist %}
        totals = parallel.sum(sums)
        if parallel.is_main:  # the main process alone scores the validation split
            score(done, totals)
{%- else %}
        score(done, sums)
{%- endif %}
        if done % config.checkpoint_every == 0 or done == config.epochs:
            save(done, 0, [0.0, 0, 0])

{%- if dist %}
    if not parallel.is_main:
        return None
{%- endif %}
    if best is None:  # a checkpoint at or past EPOCHS that holds no scored epoch
        raise RuntimeError(f"no epoch was trained; rerun with RESUME=false or EPOCHS above {config.epochs}")
    adapter.load_weights(best["weights"])
    progress.event(
        "best",
        f"keeping epoch {best['epoch']} (validation loss {best['val_loss']:.4f}, "
        f"accuracy {best['val_acc']:.2%})",
        epoch=best["epoch"],
        val_loss=round(best["val_loss"], 6),
        val_acc=round(best["val_acc"], 6),
    )
    return FitResult(
        history=history,
        best_epoch=best["epoch"],
        epochs_run=history[-1]["epoch"] if history else 0,
        stopped_early=stopped_early,
    )


def evaluate(probabilities: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) of probabilities [N, classes] against labels [N]."""
    picked = probabilities[np.arange(len(labels)), labels]
    loss = float(-np.mean(np.log(np.clip(picked, 1e-12, 1.0))))
    return loss, float(np.mean(probabilities.argmax(axis=1) == labels))


def _patience_ran_out(best: dict[str, Any] | None, finished: int, patience: int) -> bool:
    return bool(patience and best is not None and finished - best["epoch"] >= patience)
