from __future__ import annotations

import json
import pickle
import signal

import pytest

from {{ cookiecutter.package_name }}.artifacts import read_model_dir

EPOCHS = "8"


def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes(runner) -> None:
    process = runner.start(EPOCHS=EPOCHS)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # wait until the first epoch is done, then stop it
        lines.append(line)
        if line.startswith("{") and json.loads(line)["event"] == "epoch":
            process.send_signal(signal.SIGTERM)
            break
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    events = runner.events("".join(lines) + stdout)
    stopped = [event for event in events if event["event"] == "stopped"]
    assert len(stopped) == 1, "training finished before SIGTERM arrived"
    assert list(runner.checkpoint_dir.glob("checkpoint-*.ckpt"))
    assert not runner.model_dir.exists()

    result = runner.run(EPOCHS=EPOCHS)
    assert result.returncode == 0, result.stderr
    events = runner.events(result.stdout)
    resumed = next(event for event in events if event["event"] == "resume")
    assert (resumed["epoch"], resumed["step"]) == (stopped[0]["epoch"], stopped[0]["step"])
    first_epoch = next(event for event in events if event["event"] == "epoch")
    assert first_epoch["epoch"] == stopped[0]["epoch"] + 1
    assert events[-1]["event"] == "done"
    model = read_model_dir(runner.model_dir)
    assert model.metrics["accuracy"] >= 0.9
    # The interrupted epoch counts once, with the batches of both runs.
    assert [entry["epoch"] for entry in model.metrics["history"]] == list(range(1, int(EPOCHS) + 1))


def test_resumed_run_matches_an_uninterrupted_one(runner, tmp_path) -> None:
    # Train 3 epochs, then extend the same checkpoints to 5: the result must equal a
    # straight 5-epoch run, since the state and the shuffles are fully restored.
    assert runner.run(EPOCHS="3").returncode == 0
    resumed = runner.run(EPOCHS="5")
    assert resumed.returncode == 0, resumed.stderr
    assert any(event["event"] == "resume" for event in runner.events(resumed.stdout))
    # --no-resume ignores the checkpoints that are there and trains from scratch.
    straight = runner.run("--no-resume", EPOCHS="5", MODEL_DIR=str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    assert not any(event["event"] == "resume" for event in runner.events(straight.stdout))
    extended, uninterrupted = (
        read_model_dir(runner.model_dir).metrics,
        read_model_dir(tmp_path / "straight").metrics,
    )
    assert abs(extended["accuracy"] - uninterrupted["accuracy"]) <= 0.006
    # The checkpoints carry the history, so the resumed model reports all five epochs.
    assert [entry["epoch"] for entry in extended["history"]] == [1, 2, 3, 4, 5]
    for resumed_epoch, straight_epoch in zip(extended["history"], uninterrupted["history"], strict=True):
        assert resumed_epoch["val_loss"] == pytest.approx(straight_epoch["val_loss"], abs=0.02)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
        lambda path: path.write_bytes(b"\x00garbage" * 100),
        lambda path: path.write_bytes(pickle.dumps(["not", "a", "checkpoint"])),
    ],
    ids=["truncated", "garbage", "wrong-object"],
)
def test_an_unreadable_latest_checkpoint_falls_back_to_the_one_before(runner, corrupt) -> None:
    assert runner.run(EPOCHS="2").returncode == 0
    previous, latest = sorted(runner.checkpoint_dir.glob("checkpoint-*.ckpt"))[-2:]
    corrupt(latest)
    leftover = runner.checkpoint_dir / ".checkpoint-killed.tmp"  # as a SIGKILL mid-save leaves it
    leftover.write_bytes(b"partial")

    result = runner.run(EPOCHS="3")
    assert result.returncode == 0, result.stderr
    events = runner.events(result.stdout)
    unreadable = [event for event in events if event["event"] == "checkpoint_unreadable"]
    assert [event["path"] for event in unreadable] == [str(latest)]
    resumed = next(event for event in events if event["event"] == "resume")
    assert resumed["path"] == str(previous)
    assert events[-1]["event"] == "done"
    assert not leftover.exists()
    assert "Traceback" not in result.stderr
