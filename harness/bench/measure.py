"""The measurements, one function per group of figures; each adds samples to a Bench.

Every step saves bench.json, report.md and bench.png, so an interrupted run still leaves
a real (partial) report. Containers and volumes live in a harness Sandbox (unique,
labelled, removed afterwards); compose runs under a unique project name, taken down after.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .. import options, pipeline, smoke
from ..engine import Engine
from ..sandbox import Sandbox, wait_http
from . import builds, http
from .report import Figure, Target, write_outputs

ROOT = options.ROOT
OUT = ROOT / "out" / "bench"
DOCS = ROOT / "docs" / "bench"
PROJECT_NAME = "Bench Digits"
# The no-op endpoint, and room for 16 concurrent inferences: with the default
# MAX_CONCURRENCY=4, c=16 measures the 503s of load shedding, not predictions.
LOAD_ENV = ("-e", "ENABLE_NOOP=1", "-e", "MAX_CONCURRENCY=16")  # own image names: never retags images other jobs use


class Bench:
    def __init__(self, out: Path = OUT, docs: Path | None = DOCS, command: str = "") -> None:
        self.out, self.docs = out, docs
        self.figures: dict[str, Figure] = {}
        self.meta = {
            "date": dt.date.today().isoformat(),
            "command": command,
            "machine": machine(),
            "variants": [],
            "notes": [],
        }
        self.raw: dict[str, object] = {}

    def load(self) -> None:
        """Continue the previous run: keep its figures, variants and notes (--append)."""
        path = self.out / "bench.json"
        if not path.is_file():
            return
        old = json.loads(path.read_text())
        for data in old.get("figures", []):
            self.figures[data["key"]] = Figure.from_dict(data)
        self.raw.update(old.get("raw", {}))
        for vid in old.get("meta", {}).get("variants", []):
            if vid not in self.meta["variants"]:
                self.meta["variants"].append(vid)
        for note in old.get("meta", {}).get("notes", []):
            self.note(note)
        commands = [c for c in (old.get("meta", {}).get("command"), self.meta["command"]) if c]
        self.meta["command"] = "; ".join(commands)

    def figure(self, key: str, label: str, unit: str, group: str, targets=(), note: str = "") -> Figure:
        if key not in self.figures:
            self.figures[key] = Figure(key, label, unit, [], list(targets), note, group)
        return self.figures[key]

    def add(self, key: str, value: float, label: str, unit: str, group: str, targets=(), note: str = "") -> None:
        self.figure(key, label, unit, group, targets, note).samples.append(float(value))

    def note(self, text: str) -> None:
        if text not in self.meta["notes"]:
            self.meta["notes"].append(text)

    def data(self) -> dict:
        return {"meta": self.meta, "figures": [f.to_dict() for f in self.figures.values()], "raw": self.raw}

    def save(self) -> None:
        write_outputs(self.data(), self.out, self.docs)


def machine() -> dict[str, str]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{mem:.0f} GiB",
        "gpu": "none",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def timed(func: Callable[[], object]) -> tuple[float, object]:
    start = time.monotonic()
    result = func()
    return time.monotonic() - start, result


class Variant:
    """A variant rendered for the benchmarks (own project name, own image tags), through the
    same pipeline as every other session (``pipeline.render_project``/``build_targets``)."""

    def __init__(self, engine: Engine, variant: Mapping[str, str], out: Path = OUT) -> None:
        self.engine = engine
        self.source = pipeline.render_project(engine, variant, out, project_name=PROJECT_NAME)
        self.variant, self.id, self.project = self.source.variant, self.source.id, self.source.path
        self.base, self.package, self.logs = self.source.base_image, self.source.package, self.source.log_dir
        self.repository = self.source.repository
        self.results: dict = {}

    def ours(self, target: str, no_cache: bool = False):
        result = pipeline.build_targets(self.engine, self.source, [target], no_cache=no_cache)[target]
        self.results[target] = result
        return result

    def baseline(self, kind: str, requirements: str, no_cache: bool = False):
        tag = f"{self.repository}:{self.id}-{kind}-{requirements}"
        return builds.build_baseline(
            self.engine, self.project, kind, requirements, tag, self.base, no_cache=no_cache, log_dir=self.logs
        )

    def image(self, target: str) -> str:
        return f"{self.repository}:{self.id}-{target}"

    def as_images(self) -> pipeline.VariantImages:
        return pipeline.VariantImages(self.source, self.results)


# ---------------------------------------------------------------------------------------
def sizes_and_builds(bench: Bench, v: Variant, runs: int, cold: bool, heavy_naive: bool) -> None:
    """Warm builds, sizes vs naive and floor, cold builds, rebuilds after a one-line edit."""
    group = "Image size and build time"
    vid = v.id
    for target in ("train", "serve", "lb"):
        v.ours(target)
    refs = {}
    for req in ("serve", "train"):
        for kind in ("naive", "floor"):
            refs[(kind, req)] = v.baseline(kind, req)
    for req in ("serve", "train"):
        ours = builds.image_size(v.engine, v.image(req))
        naive = builds.image_size(v.engine, refs[("naive", req)].tags[0])
        floor = builds.image_size(v.engine, refs[("floor", req)].tags[0])
        if req == "serve":
            targets = [
                Target("<=", 0.35, f"size.{vid}.serve.naive", "naive"),
                Target("<=", 1.15, f"size.{vid}.serve.floor", "floor"),
                # Informative: a naive project ships one image for both jobs; its naive train
                # image (train deps only) is a lower bound of that image.
                Target("<=", 0.35, f"size.{vid}.train.naive", "naive one-image (naive train, lower bound)"),
            ]
        else:
            targets = [Target("<=", 1.10, f"size.{vid}.train.floor", "floor")]
        bench.add(f"size.{vid}.{req}.ours", ours, f"{vid}: {req} image", "bytes", group, targets)
        bench.add(f"size.{vid}.{req}.naive", naive, f"{vid}: {req} image, naive Dockerfile", "bytes", group)
        bench.add(f"size.{vid}.{req}.floor", floor, f"{vid}: {req} image, floor (base + deps)", "bytes", group)
    bench.raw[f"base_image_size.{vid}"] = builds.image_size(v.engine, v.base)
    bench.save()

    # Cold: no layer cache. The serve target always; train only for sklearn (torch and
    # tensorflow installs take minutes, their train figures are warm-cache only).
    if cold:
        cold_targets = ["serve"] + (["train"] if v.variant["framework"] == "sklearn" else [])
        for target in cold_targets:
            seconds = v.ours(target, no_cache=True).seconds
            naive = v.baseline("naive", target, no_cache=True).seconds
            bench.add(
                f"build.{vid}.{target}.cold.ours",
                seconds,
                f"{vid}: {target} cold build",
                "s",
                group,
                note="no layer cache; wheels from the local wheelhouse",
            )
            bench.add(
                f"build.{vid}.{target}.cold.naive",
                naive,
                f"{vid}: {target} cold build, naive",
                "s",
                group,
                note="no layer cache; wheels from the local wheelhouse",
            )
            bench.save()

    # A one-line source edit, then rebuild: ours vs naive. Each target gets its own, new
    # edit (the serve and train targets share the package stage: measured after a serve
    # rebuild, train would find it already built).
    for run in range(runs):
        builds.edit_source(v.project)
        ours = v.ours("serve").seconds
        naive = v.baseline("naive", "serve").seconds
        bench.add(
            f"build.{vid}.serve.edit.ours",
            ours,
            f"{vid}: serve rebuild after a one-line edit",
            "s",
            group,
            [Target("<=", 0.05, f"build.{vid}.serve.edit.naive", "naive")],
        )
        bench.add(f"build.{vid}.serve.edit.naive", naive, f"{vid}: serve rebuild after the edit, naive", "s", group)
        builds.edit_source(v.project)
        ours_train = v.ours("train").seconds
        bench.add(
            f"build.{vid}.train.edit.ours",
            ours_train,
            f"{vid}: train rebuild after a one-line edit",
            "s",
            group,
            [Target("<=", 0.05, f"build.{vid}.train.edit.naive", "naive")],
        )
        if run == 0 and (heavy_naive or v.variant["framework"] == "sklearn"):
            naive_train = v.baseline("naive", "train").seconds
            bench.add(
                f"build.{vid}.train.edit.naive",
                naive_train,
                f"{vid}: train rebuild after the edit, naive",
                "s",
                group,
                note="1 run (reinstalls the framework)",
            )
        bench.save()
    v.ours("lb")


# ---------------------------------------------------------------------------------------
def train_and_serve(
    bench: Bench, v: Variant, runs: int, seconds: float, train_runs: int, compose: bool = False
) -> None:
    """Train (time, accuracy), serve start to ready, predict vs no-op under wrk; with
    ``compose``, then compose scaling on the same trained model (its volume is the box's).
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
            metrics = json.loads(_read_one(box, models, "current/metrics.json", v.image("train")))
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
        digits = smoke.held_out_digits(box, images, data)
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
        v.engine.run("rm", "-f", box.name(f"serve{runs - 1}"), check=False)
        if compose:
            compose_scaling(bench, v, models, runs, seconds, body)


def _read_one(box: Sandbox, volume: str, path: str, image: str) -> bytes:
    files = box.copy_out(volume, path, image)
    return next(iter(files.values()))


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


# ---------------------------------------------------------------------------------------
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
            metrics = json.loads(_read_one(box, models, "current/metrics.json", v.image("train")))
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


# ---------------------------------------------------------------------------------------
def lint(bench: Bench, runs: int) -> None:
    """`python -m harness lint` wall time over all valid variants, and over one (slope)."""
    group = "Harness"
    n_all = len(options.valid_variants())
    for _ in range(runs):
        t_all, left_out = _lint([])
        t_one, left_out_one = _lint(["default"])
        for check in sorted(set(left_out + left_out_one)):
            bench.note(f"lint timings leave out the check `{check}`: its tool is not installed in this environment")
        bench.add(
            "lint.all.seconds",
            t_all,
            f"lint, all {n_all} valid variants",
            "s",
            group,
            [Target("<=", 30.0)],
            note="python -m harness lint, wall time",
        )
        bench.add("lint.one.seconds", t_one, "lint, 1 variant", "s", group)
        bench.add(
            "lint.per_variant.seconds",
            (t_all - t_one) / (n_all - 1),
            "lint, marginal cost of one variant",
            "s",
            group,
            [Target("<=", 0.5)],
            note=f"(T{n_all} - T1) / {n_all - 1}",
        )
        bench.save()


def _lint(specs: list[str]) -> tuple[float, list[str]]:
    # The linters are console scripts next to this interpreter (nox puts them on PATH).
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "lint", *specs],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    seconds = time.monotonic() - start
    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    missing = [line for line in fails if "is not installed" in line]
    # A failing check would time a different job; a check whose tool belongs to another
    # session (e.g. trivy, installed by `nox -s scan`) is reported as left out instead.
    if proc.returncode != 0 and (not fails or len(missing) != len(fails)):
        raise RuntimeError(f"harness lint failed ({proc.returncode}): {(proc.stdout + proc.stderr)[-2000:]}")
    return seconds, [line.removeprefix("FAIL ").split(":")[0] for line in missing]


# ---------------------------------------------------------------------------------------
def demo_warm(bench: Bench, runs: int) -> None:
    """`python -m harness demo` end to end with the build cache warm (wall time)."""
    group = "Time to first prediction"
    for _ in range(runs):
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "demo"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        wall = time.monotonic() - start
        match = re.search(r"first prediction (\d+) s after start", proc.stdout)
        if proc.returncode not in (0, 1) or not match:
            bench.note(f"warm demo failed ({proc.returncode}): {proc.stderr[-300:]}")
            continue
        bench.add(
            "demo.warm.first_prediction",
            float(match.group(1)),
            "demo (warm cache): first prediction",
            "s",
            group,
            [Target("<=", 60.0)],
            note="python -m harness demo; cache and wheels warm",
        )
        bench.add("demo.warm.wall", wall, "demo (warm cache): whole command", "s", group)
        bench.save()


def demo_cold(bench: Bench, engine: Engine, variant: Mapping[str, str]) -> None:
    """The demo's steps on a fresh output folder with --no-cache builds (1 run).

    Cold means: fresh render, every layer rebuilt. Not cold: the base image and the wheel
    cache (re-downloading torch would measure the network, not the template).
    """
    group = "Time to first prediction"
    start = time.monotonic()
    bench.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-demo-", dir=bench.out) as tmp:
        v = Variant(engine, variant, Path(tmp))
        for target in ("train", "serve"):
            v.ours(target, no_cache=True)
        images = v.as_images()
        with Sandbox(engine, prefix="bench-demo") as box:
            models, data = smoke.train(box, images)
            url = smoke.serve(box, images, models)
            digits = smoke.held_out_digits(box, images, data)
            smoke.classify(url, dict(list(sorted(digits.items()))[:8]))
            seconds = time.monotonic() - start
    bench.add(
        "demo.cold.first_prediction",
        seconds,
        "demo (cold: fresh render, --no-cache builds): first prediction",
        "s",
        group,
        [Target("<=", 300.0)],
        note="1 run; base image and wheel cache present",
    )
    bench.save()
