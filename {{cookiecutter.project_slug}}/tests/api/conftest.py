"""Fixtures for the serving API tests (helpers live in support.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve import Settings

from .support import N_FEATURES, SLOW_SECONDS, LiveServer, build_onnx, running_client, write_model


@pytest.fixture(scope="session")
def slow_k() -> float:
    """Loop iterations per unit of pixel sum so that a white image takes ~SLOW_SECONDS."""
    session = ort.InferenceSession(build_onnx(slow_k=200.0), providers=["CPUExecutionProvider"])
    white = np.ones((1, N_FEATURES), np.float32)
    session.run(None, {"pixels": white})
    # The fastest of several runs: a run slowed by a busy machine would make the model too
    # fast later, when the machine is quiet (a 1.5 s target once came out at 0.38 s in CI).
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        session.run(None, {"pixels": white})
        runs.append(time.perf_counter() - started)
    seconds_per_k = min(runs) / 200.0  # white input: sum(pixels) == N_FEATURES
    return SLOW_SECONDS / seconds_per_k


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    return write_model(tmp_path / "models" / "current", "v1")


@pytest.fixture
def make_settings(model_dir: Path) -> Callable[..., Settings]:
    def make(**changes: object) -> Settings:
        base = Settings(model_dir=model_dir, model_retry_seconds=0.05, ort_threads=1)
        return replace(base, **changes)  # type: ignore[arg-type]

    return make


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> Iterator[TestClient]:
    with running_client(make_settings()) as client:
        yield client


@pytest.fixture
def live_server(make_settings: Callable[..., Settings]) -> Callable[..., LiveServer]:
    return lambda **changes: LiveServer(make_settings(**changes))
