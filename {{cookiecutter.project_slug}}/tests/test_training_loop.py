"""The training loop every framework shares (``training.fit``): early stopping on the
validation split, the best validation epoch kept, and the shuffle of an epoch."""

from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.artifacts import read_model_dir
from {{ cookiecutter.package_name }}.training import epoch_order, evaluate


def test_patience_stops_training_and_the_lowest_validation_loss_epoch_is_written(runner, tmp_path) -> None:
    # A large step and patience 1 make the validation loss rise within a few epochs.
    result = runner.run(EPOCHS="40", PATIENCE="1", LEARNING_RATE="0.01")
    assert result.returncode == 0, result.stderr
    events = runner.events(result.stdout)
    assert any(event["event"] == "early_stop" for event in events), "no early stop in 40 epochs"
    model = read_model_dir(runner.model_dir)
    history = model.metrics["history"]
    best = history[int(np.argmin([entry["val_loss"] for entry in history]))]["epoch"]
    assert history[-1]["epoch"] == best + 1 < 40  # stopped at the first epoch without a lower loss
    assert next(event for event in events if event["event"] == "best")["epoch"] == best
    assert (model.manifest.extra["best_epoch"], model.manifest.extra["stopped_early"]) == (best, True)

    # The model written is the best epoch's: a run that simply ends there gives the same one.
    straight = runner.run(
        EPOCHS=str(best),
        PATIENCE="0",
        LEARNING_RATE="0.01",
        MODEL_DIR=str(tmp_path / "to-best"),
        CHECKPOINT_DIR=str(tmp_path / "to-best-checkpoints"),
    )
    assert straight.returncode == 0, straight.stderr
    reference = read_model_dir(tmp_path / "to-best").metrics
    assert reference["history"] == history[:best]
    assert reference["confusion_matrix"] == model.metrics["confusion_matrix"]


def test_patience_zero_trains_every_epoch(runner) -> None:
    result = runner.run(EPOCHS="3", PATIENCE="0", LEARNING_RATE="0.05")
    assert result.returncode == 0, result.stderr
    assert [entry["epoch"] for entry in read_model_dir(runner.model_dir).metrics["history"]] == [1, 2, 3]


{% if cookiecutter.distributed_training == "torchrun" -%}
def test_epoch_order_is_a_seeded_permutation_shared_out_evenly_between_processes() -> None:
    order = epoch_order(10, seed=3, epoch=1)
    assert sorted(order.tolist()) == list(range(10))
    assert order.tolist() == epoch_order(10, seed=3, epoch=1).tolist()
    assert order.tolist() != epoch_order(10, seed=3, epoch=2).tolist()
    shares = [epoch_order(10, seed=3, epoch=1, rank=rank, world_size=3).tolist() for rank in range(3)]
    assert [len(share) for share in shares] == [4, 4, 4]
    assert sorted(sum(shares, [])) == sorted([*range(10), *order[:2].tolist()])  # padded with its start
{%- else -%}
def test_epoch_order_is_a_seeded_permutation() -> None:
    order = epoch_order(10, seed=3, epoch=1)
    assert sorted(order.tolist()) == list(range(10))
    assert order.tolist() == epoch_order(10, seed=3, epoch=1).tolist()
    assert order.tolist() != epoch_order(10, seed=3, epoch=2).tolist()
{%- endif %}


def test_evaluate_gives_cross_entropy_and_accuracy() -> None:
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    loss, accuracy = evaluate(probabilities, np.array([0, 1, 1]))
    assert loss == pytest.approx(float(np.mean(-np.log([0.9, 0.8, 0.4]))), rel=1e-6)
    assert accuracy == 2 / 3
