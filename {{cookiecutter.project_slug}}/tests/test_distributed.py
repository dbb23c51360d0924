"""torchrun with two processes on this machine: DDP over gloo, rank 0 writes, resume."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.artifacts import read_model_dir

TORCHRUN = ("-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2")


def test_two_processes_train_then_resume(runner) -> None:
    first = runner.run(launcher=TORCHRUN, timeout=600, EPOCHS="2")
    assert first.returncode == 0, first.stderr
    events = runner.events(first.stdout)
    # only rank 0 reports, so every epoch appears once
    assert [event["epoch"] for event in events if event["event"] == "epoch"] == [1, 2]
    model = read_model_dir(runner.model_dir)
    assert model.manifest.extra["world_size"] == 2
    assert model.metrics["accuracy"] >= 0.8

    second = runner.run(launcher=TORCHRUN, timeout=600, EPOCHS="4")
    assert second.returncode == 0, second.stderr
    events = runner.events(second.stdout)
    resumed = next(event for event in events if event["event"] == "resume")
    assert (resumed["epoch"], resumed["step"]) == (2, 0)
    assert [event["epoch"] for event in events if event["event"] == "epoch"] == [3, 4]
    assert read_model_dir(runner.model_dir).metrics["accuracy"] >= 0.9
