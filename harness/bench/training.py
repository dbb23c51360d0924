"""Training: torchrun with 2 processes against 1, and peak memory against the number of images."""

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


# Copies each train image of the shapes set ``COPIES`` times (the 10x set) in the container.
_REPLICATE = """
import shutil, sys
from pathlib import Path
source, target, copies = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
for path in sorted(source.rglob("*.png")):
    relative = path.relative_to(source)
    (target / relative.parent).mkdir(parents=True, exist_ok=True)
    for copy in range(copies if relative.parts[0] == "train" else 1):
        shutil.copyfile(path, target / relative.parent / f"{path.stem}-{copy}{path.suffix}")
"""
COPIES = 10


def memory(bench: Bench, v: Variant) -> None:
    """Peak memory of one training epoch on the shapes set and on 10x its train images (the
    train image, its done event's VmHWM): streaming keeps it flat (target <= 1.3x)."""
    group = "Training"
    vid = v.id
    image = v.image("train")
    with Sandbox(v.engine, prefix="bench-memory") as box:
        data = box.volume("data")
        mounts = ["-v", f"{data}:/data"]
        box.run(
            image, "python", "-m", f"{v.package}.data", "materialize", "--dataset", "shapes", "/data/base",
            name="materialize", options=[*smoke.HARDENED, *mounts], timeout=300,
        )  # fmt: skip
        box.run(
            image, "python", "-c", _REPLICATE, "/data/base", "/data/large", str(COPIES),
            name="replicate", options=[*smoke.HARDENED, *mounts], timeout=600,
        )  # fmt: skip
        for name in ("base", "large"):
            models, checkpoints = box.volume(f"models-{name}"), box.volume(f"checkpoints-{name}")
            env = ["-e", f"DATA_DIR=/data/{name}", "-e", "EPOCHS=1", "-e", "LOG_FORMAT=json"]
            volumes = [*mounts, "-v", f"{models}:/models", "-v", f"{checkpoints}:/checkpoints"]
            result = box.run(
                image, name=f"train-{name}", options=[*smoke.HARDENED, "--init", *env, *volumes],
                timeout=smoke.TRAIN_TIMEOUT, check=False,
            )  # fmt: skip
            if result.returncode != 0:
                bench.note(f"{vid}: training on the {name} shapes set exited {result.returncode}")
                return
            done = json.loads(result.stdout.strip().splitlines()[-1])
            if done.get("event") != "done" or done.get("peak_memory_mib") is None:
                bench.note(f"{vid}: training on the {name} shapes set reported no peak memory: {done}")
                return
            images = "1,296 train images" if name == "base" else f"{COPIES}x the train images"
            targets = [Target("<=", 1.3, f"train_memory.{vid}.base.mib", "the base set")] if name == "large" else []
            bench.add(
                f"train_memory.{vid}.{name}.mib",
                float(done["peak_memory_mib"]),
                f"{vid}: peak memory of 1 epoch on shapes, {images}",
                "MiB",
                group,
                targets,
                note="VmHWM of the training process; 2 CPUs; 1 run",
            )
            bench.save()
