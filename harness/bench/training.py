"""Distributed training: torchrun with 2 processes against 1."""

import json
import time

from .. import smoke
from ..sandbox import Sandbox
from .core import Bench, Variant, read_one
from .report import Target


def ddp(bench: Bench, v: Variant) -> None:
    """torchrun with 1 vs 2 processes on the train image (1 run each: minutes per run)."""
    group = "Training"
    vid = v.id
    with Sandbox(v.engine, prefix="bench-ddp") as box:
        for nproc in (1, 2):
            models, data, ckpt = (box.volume(f"{w}{nproc}") for w in ("models", "data", "ckpt"))
            mounts = ["-v", f"{models}:/models", "-v", f"{data}:/data", "-v", f"{ckpt}:/checkpoints"]
            cmd = ["torchrun", "--standalone", f"--nproc-per-node={nproc}", "-m", f"{v.package}.train"]
            start = time.monotonic()
            box.run(
                v.image("train"), *cmd, name=f"ddp{nproc}", options=[*smoke.HARDENED, "--init", *mounts], detach=True
            )
            status = box.wait_exit(f"ddp{nproc}", timeout=smoke.TRAIN_TIMEOUT)
            secs = time.monotonic() - start
            if status != 0:
                bench.note(f"{vid}: torchrun nproc={nproc} exited {status}")
                continue
            metrics = json.loads(read_one(box, models, "current/metrics.json", v.image("train")))
            targets = [Target("<=", 1.0, f"ddp.{vid}.n1.seconds", "1 process")] if nproc == 2 else []
            bench.add(
                f"ddp.{vid}.n{nproc}.seconds",
                secs,
                f"{vid}: torchrun --nproc-per-node={nproc}, wall time",
                "s",
                group,
                targets,
                note="2 CPUs in the container; 1 run",
            )
            bench.add(
                f"ddp.{vid}.n{nproc}.accuracy",
                float(metrics["accuracy"]),
                f"{vid}: torchrun --nproc-per-node={nproc}, accuracy",
                "fraction",
                group,
            )
            bench.save()
