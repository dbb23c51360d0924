"""Dynamic batching: concurrent requests share model runs, and each gets its own answer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest

from {{ cookiecutter.package_name }}.serve.batching import Abandoned, Batcher
from {{ cookiecutter.package_name }}.serve.domain import CorruptedImage, Draining
from {{ cookiecutter.package_name }}.serve.metrics import Metrics
from {{ cookiecutter.package_name }}.serve.predictor import LoadedModel, load_model

from .support import N_FEATURES, LiveServer, image_bytes, wait_ready, write_model
from .test_predict import expected_probabilities

EXAMPLE = np.zeros((1, N_FEATURES), np.float32)


@pytest.fixture
def model(tmp_path: Path) -> LoadedModel:
    return load_model(write_model(tmp_path / "m", "v1"), threads=1)


def _runs(metrics: Metrics) -> tuple[float, float]:
    """(model runs, examples run) so far, from the run batch size histogram."""
    count = metrics.registry.get_sample_value("model_run_batch_size_count") or 0.0
    total = metrics.registry.get_sample_value("model_run_batch_size_sum") or 0.0
    return count, total


def test_concurrent_requests_share_model_runs_and_each_gets_its_own_answer(
    live_server: Callable[..., LiveServer],
) -> None:
    images = [image_bytes(color=16 * n) for n in range(12)]
    broken = image_bytes(size=(8, 8), color=7)[:-30]  # a truncated PNG: it fails alone
    with live_server(max_concurrency=16, batch_wait_ms=300) as server, server.client() as client:
        wait_ready(client)

        def post(body: bytes) -> httpx.Response:
            return client.post("/v1/predict", files={"files": ("x.png", body)}, params={"top_k": 10})

        with ThreadPoolExecutor(len(images) + 1) as pool:
            answers = list(pool.map(post, [*images, broken]))
        runs, examples = _runs(server.app.state.server.metrics)
    assert 400 <= answers[-1].status_code < 500, answers[-1].text
    for image, answer in zip(images, answers, strict=False):
        assert answer.status_code == 200, answer.text
        scores = {c["class_index"]: c["probability"] for c in answer.json()["predictions"][0]["top_k"]}
        expected = expected_probabilities(image)
        assert [scores[i] for i in range(10)] == pytest.approx(expected.tolist(), rel=1e-5)
    assert examples == len(images)
    assert runs < len(images), f"{len(images)} concurrent requests took {runs:.0f} model runs"


def test_a_job_whose_client_stopped_waiting_is_dropped_before_it_is_prepared(model: LoadedModel) -> None:
    async def scenario() -> list[str]:
        batcher = Batcher(workers=1, max_images=1, wait_seconds=0, metrics=Metrics())
        gate, prepared = threading.Event(), []

        def first() -> np.ndarray:
            gate.wait(10)
            prepared.append("first")
            return EXAMPLE

        def second() -> np.ndarray:
            prepared.append("second")
            return EXAMPLE

        running = batcher.submit(model, 1, first)
        queued = batcher.submit(model, 1, second)
        queued.abandoned = True  # what Admission does on a 504 or a disconnect
        gate.set()
        assert (await running.future).shape == (1, 10)
        with pytest.raises(Abandoned):
            await queued.future
        batcher.stop()
        return prepared

    assert asyncio.run(scenario()) == ["first"]


def test_a_failing_job_fails_alone_and_non_finite_output_fails_only_its_own_job(tmp_path: Path) -> None:
    """A corrupt image, and a request the model answers with NaN, fail alone: the other
    requests of the same model run get their answers."""
    nan = load_model(write_model(tmp_path / "nan", "v1", nan_when_bright=True), threads=1)

    def corrupt() -> np.ndarray:
        raise CorruptedImage("x.png is corrupted or truncated; send the complete file")

    async def scenario() -> None:
        metrics = Metrics()
        batcher = Batcher(workers=1, max_images=8, wait_seconds=0.3, metrics=metrics)
        ok = [batcher.submit(nan, 1, lambda: EXAMPLE) for _ in range(2)]
        bad = batcher.submit(nan, 1, corrupt)
        bright = np.ones((1, N_FEATURES), np.float32)
        nan_jobs = [batcher.submit(nan, 1, lambda: bright) for _ in range(2)]
        for job in nan_jobs:
            with pytest.raises(RuntimeError, match="non-finite"):
                await job.future
        for job in ok:
            probabilities = await job.future
            assert probabilities.shape == (1, 10) and np.isfinite(probabilities).all()
        with pytest.raises(CorruptedImage):
            await bad.future
        assert _runs(metrics) == (1.0, 4.0)  # one run for all four, the corrupt job in none
        batcher.stop()

    asyncio.run(scenario())


def test_stopping_fails_the_queued_jobs_and_refuses_new_ones(model: LoadedModel) -> None:
    async def scenario() -> None:
        batcher = Batcher(workers=1, max_images=1, wait_seconds=0, metrics=Metrics())
        started, gate = threading.Event(), threading.Event()

        def first() -> np.ndarray:
            started.set()
            gate.wait(10)
            return EXAMPLE

        running = batcher.submit(model, 1, first)
        queued = batcher.submit(model, 1, lambda: EXAMPLE)
        assert await asyncio.to_thread(started.wait, 10)  # a worker has taken the first job
        batcher.stop()
        gate.set()
        with pytest.raises(Draining):
            await queued.future
        assert (await running.future).shape == (1, 10)  # a batch under way still finishes
        with pytest.raises(Draining):
            batcher.submit(model, 1, lambda: EXAMPLE)

    asyncio.run(scenario())
