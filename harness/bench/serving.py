"""Training time and accuracy, serve start to ready, predict throughput and latency against
the no-op route, and compose scaling from 1 to 2 replicas."""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

from .. import smoke
from ..sandbox import Sandbox, wait_http
from . import http, peers
from .core import LOAD_ENV, Bench, Variant, read_one, timed
from .report import Target


def train_and_serve(
    bench: Bench,
    v: Variant,
    runs: int,
    seconds: float,
    train_runs: int,
    compose: bool = False,
    with_peers: bool = False,
) -> None:
    """Train (time, accuracy), serve start to ready, predict vs no-op under wrk; with
    ``with_peers``, the same model served by BentoML, LitServe and KServe beside ours
    (harness/bench/peers.py); with ``compose``, then compose scaling on the same trained
    model (its volume is the box's).
    """
    vid = v.id
    images = v.as_images()
    with Sandbox(v.engine, prefix="bench") as box:
        group = "Training"
        models = data = None
        for run in range(train_runs):
            if run:
                box.cleanup()
            secs, (models, data) = timed(lambda: smoke.train(box, images))
            metrics = json.loads(read_one(box, models, "current/metrics.json", v.image("train")))
            bench.add(
                f"train.{vid}.seconds",
                secs,
                f"{vid}: training wall time (container)",
                "s",
                group,
                note="docker run to exit, 2 CPUs, default epochs",
            )
            bench.add(
                f"train.{vid}.accuracy",
                float(metrics["accuracy"]),
                f"{vid}: held-out accuracy",
                "fraction",
                group,
                [Target(">=", 0.95)],
            )
            bench.save()
        digits = smoke.held_out_images(box, images, data)
        name, (_label, png) = sorted(digits.items())[0]
        body = http.multipart(Path(name).name, png)

        group = "Serving"
        port = images.serve_port
        url = None
        for run in range(runs):
            name = f"serve{run}"
            opts = [*smoke.HARDENED, *LOAD_ENV, "-v", f"{models}:/models:ro", "-p", f"127.0.0.1::{port}"]
            start = time.monotonic()
            box.run(v.image("serve"), name=name, options=opts, detach=True)
            url = f"http://127.0.0.1:{box.host_port(name, port)}"
            wait_http(f"{url}/readyz", smoke.READY_TIMEOUT)
            bench.add(
                f"serve.{vid}.ready",
                time.monotonic() - start,
                f"{vid}: serve start to ready",
                "s",
                group,
                [Target("<=", 2.0)],
                note="docker run -d to /readyz 200 (model loaded)",
            )
            if run < runs - 1:
                v.engine.run("rm", "-f", box.name(name), check=False)
        bench.save()
        for _ in range(runs):
            for conc in (1, 16):
                noop = http.load(f"{url}/v1/noop", conc, seconds)
                pred = http.load(f"{url}/v1/predict", conc, seconds, body)
                t_rps = [Target(">=", 0.5, f"http.{vid}.noop.c{conc}.rps", "no-op")] if conc == 16 else []
                t_p99 = [Target("<=", 50.0)] if conc == 16 else []
                bench.add(
                    f"http.{vid}.predict.c{conc}.rps",
                    pred.rps,
                    f"{vid}: predict throughput, c={conc}",
                    "rps",
                    group,
                    t_rps,
                    note="1 image per request",
                )
                bench.add(f"http.{vid}.predict.c{conc}.p50", pred.p50_ms, f"{vid}: predict p50, c={conc}", "ms", group)
                bench.add(
                    f"http.{vid}.predict.c{conc}.p99", pred.p99_ms, f"{vid}: predict p99, c={conc}", "ms", group, t_p99
                )
                bench.add(f"http.{vid}.noop.c{conc}.rps", noop.rps, f"{vid}: no-op throughput, c={conc}", "rps", group)
                bench.add(f"http.{vid}.noop.c{conc}.p99", noop.p99_ms, f"{vid}: no-op p99, c={conc}", "ms", group)
                bench.raw.setdefault(f"http.{vid}", []).append({"predict": pred.__dict__, "noop": noop.__dict__})
                bench.add(
                    f"http.{vid}.predict.c{conc}.errors",
                    pred.errors,
                    f"{vid}: predict errors, c={conc}",
                    "count",
                    group,
                    note="non-2xx and socket errors in the run",
                )
                if pred.errors or noop.errors:
                    bench.note(f"{vid}: wrk saw errors at c={conc} (predict {pred.errors}, no-op {noop.errors})")
            bench.save()
        if with_peers:
            peers.compare(bench, v, box, models, png, url, runs, seconds)
        v.engine.run("rm", "-f", box.name(f"serve{runs - 1}"), check=False)
        if compose:
            compose_scaling(bench, v, models, runs, seconds, body)


# ---------------------------------------------------------------------------------------
def compose_scaling(bench: Bench, v: Variant, models: str, runs: int, seconds: float, body) -> None:
    """Predict throughput through the lb with 1 and 2 serve replicas (docker compose)."""
    group = "Compose: replicas behind the load balancer"
    vid = v.id
    project = f"bench-{os.getpid()}-{int(time.time())}"
    override = v.project.parent / f"compose.bench-{project}.yaml"
    override.write_text(
        'services:\n  serve:\n    environment:\n      MAX_CONCURRENCY: "16"\n'
        f"volumes:\n  models:\n    external: true\n    name: {models}\n"
    )
    port = free_port()
    env = v.engine.env(IMAGE_TAG=v.id, PORT=str(port))
    base = [
        *v.engine.compose,
        "-p",
        project,
        "--project-directory",
        str(v.project),
        "-f",
        str(v.project / "compose.yaml"),
        "-f",
        str(override),
    ]
    try:
        for replicas in (1, 2):
            up = [*base, "up", "-d", "--wait", "--no-build", "--pull", "never", "--scale", f"serve={replicas}"]
            proc = subprocess.run(up, env=env, capture_output=True, text=True, timeout=300, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"compose up failed: {proc.stderr[-3000:]}")
            url = f"http://127.0.0.1:{port}"
            wait_http(f"{url}/readyz", 60)
            for _ in range(runs):
                load = http.load(f"{url}/v1/predict", 16, seconds, body)
                targets = [Target(">=", 1.6, f"compose.{vid}.r1.rps", "1 replica")] if replicas == 2 else []
                bench.add(
                    f"compose.{vid}.r{replicas}.rps",
                    load.rps,
                    f"{vid}: predict through lb, {replicas} replica(s), c=16",
                    "rps",
                    group,
                    targets,
                    note="replica: 1 CPU; lb: 0.5 CPU (compose limits)",
                )
                bench.add(
                    f"compose.{vid}.r{replicas}.p99",
                    load.p99_ms,
                    f"{vid}: p99 through lb, {replicas} replica(s), c=16",
                    "ms",
                    group,
                )
                if load.errors:
                    bench.note(f"{vid}: {load.errors} errors through the lb with {replicas} replica(s)")
            bench.save()
    finally:
        subprocess.run(
            [*base, "down", "-v", "--remove-orphans", "-t", "5"], env=env, capture_output=True, timeout=120, check=False
        )
        override.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
