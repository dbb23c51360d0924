"""Prometheus metrics of one app instance.

Each app gets its own registry, so several apps (tests) can live in one process. With
PROMETHEUS_MULTIPROC_DIR set (needed for WORKERS > 1), prometheus_client writes the
values to files there and /metrics adds up every worker's files. The server touches only
prometheus_client's own files there: it removes those of a previous run at start, and a
worker that died (a SIGKILL, an OOM kill) has its live gauges dropped the way
prometheus_client documents for gunicorn (``mark_process_dead``), so its ``model_ready``
series does not outlive it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


# prometheus_client's file names in the multiprocess directory: <type>[_<mode>]_<pid>.db
_VALUE_FILE = re.compile(r"^(?:counter|histogram|summary|gauge_[a-z]+)_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _value_files(directory: Path) -> dict[int, list[Path]]:
    """prometheus_client's value files in ``directory``, by the pid that wrote them."""
    files: dict[int, list[Path]] = {}
    for path in directory.iterdir():
        if match := _VALUE_FILE.match(path.name):
            files.setdefault(int(match.group(1)), []).append(path)
    return files


def reset_multiprocess_dir(directory: str) -> None:
    """Create ``directory`` and remove a previous run's value files (and nothing else)."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for files in _value_files(path).values():
        for file in files:
            file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def forget_dead_processes(directory: str) -> list[int]:
    """Drop the live gauges of the processes that wrote value files and are gone; their pids."""
    dead = [pid for pid in _value_files(Path(directory)) if not _alive(pid)]
    for pid in dead:
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
    return dead


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by method, route template and status code.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being handled right now.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.inferences_in_flight = Gauge(
            "model_inferences_in_flight",
            "Prediction requests holding a MAX_CONCURRENCY slot (body read and inference).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.inference_latency = Histogram(
            "model_inference_duration_seconds",
            "Time spent in the ONNX Runtime session for one batch.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "model_inference_batch_size",
            "Images per predict request.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.run_batch_size = Histogram(
            "model_run_batch_size",
            "Images per model run: the requests batched together (BATCH_MAX_IMAGES, BATCH_WAIT_MS).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.model_info = Gauge(
            "model_info",
            "The model being served (value 1), labelled with its version and framework.",
            ["model_version", "framework"],
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.model_ready = Gauge(
            "model_ready",
            "1 when a warmed-up model is serving, else 0.",
            registry=registry,
            multiprocess_mode="liveall",
        )
        self.reloads = Counter(
            "model_reloads_total",
            "Model (re)load attempts by result (success or failure).",
            ["result"],
            registry=registry,
        )

    def set_model(self, model_version: str, framework: str) -> None:
        self.model_info.clear()
        self.model_info.labels(model_version=model_version, framework=framework).set(1)
        self.model_ready.set(1)

    def render(self) -> bytes:
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        forget_dead_processes(directory)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
