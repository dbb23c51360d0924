"""Dynamic batching: the examples of concurrent requests go through the model in one call.

A request hands ``Batcher.submit`` a job: the model, its number of examples and a
blocking ``prepare`` that turns the request into model input (decoding images, say). Each
inference worker thread takes every job that is waiting, up to BATCH_MAX_IMAGES examples
(after the first job it waits up to BATCH_WAIT_MS for more), prepares them, runs the
model once for all of them and answers every request of the batch with one wake-up of
the event loop. Under load, batches form by themselves from the requests that queued up
while the previous batch ran; an idle server runs each request at once.

A job whose client stopped waiting (a 504, a disconnect) before a worker took it is
dropped without being prepared. A failing job (a corrupt image) fails alone; a failing
model run fails the jobs of that run.

The idea is Triton Inference Server's dynamic batcher (``max_batch_size``,
``max_queue_delay_microseconds``): https://github.com/triton-inference-server/server/blob/main/docs/user_guide/model_configuration.md#dynamic-batcher
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .domain import Draining
from .metrics import Metrics
from .predictor import LoadedModel


class Abandoned(Exception):
    """The job's client stopped waiting before a worker took the job; nobody reads this."""


@dataclass(eq=False)
class Job:
    """One request's work. ``future`` (of the submitting event loop) gets the
    probabilities [size, classes] or the exception ``prepare`` or the model raised."""

    model: LoadedModel
    size: int  # examples ``prepare`` returns
    prepare: Callable[[], np.ndarray]  # blocking: the model input [size, *example_shape]
    future: asyncio.Future[np.ndarray]
    abandoned: bool = False  # set on the event loop when the client stops waiting
    outcome: tuple[np.ndarray | None, BaseException | None] | None = None  # (result, error) once run


class Batcher:
    """``workers`` threads running batches of at most ``max_images`` examples; a batch
    waits up to ``wait_seconds`` for more jobs after its first. Threads start on the
    first ``submit``; ``stop`` ends them and fails the jobs still waiting with Draining,
    ``open`` lets it take jobs again."""

    def __init__(self, workers: int, max_images: int, wait_seconds: float, metrics: Metrics) -> None:
        self.workers, self.max_images, self.wait_seconds = workers, max_images, wait_seconds
        self.metrics = metrics
        self._jobs: deque[Job] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopped = False

    def submit(self, model: LoadedModel, size: int, prepare: Callable[[], np.ndarray]) -> Job:
        """Queue a job from the running event loop; await ``job.future`` for its result.

        Raises Draining once the batcher is stopped.
        """
        job = Job(model, size, prepare, asyncio.get_running_loop().create_future())
        with self._cond:
            if self._stopped:
                raise _draining()
            if not self._threads:
                self._start()
            self._jobs.append(job)
            self._cond.notify()
        return job

    def stop(self, wait: float = 0.0) -> None:
        """Let the workers end after their current batch, waiting up to wait seconds for
        it (a model run cannot be interrupted, and a process that exits in the middle of one
        can abort in ONNX Runtime's code); fail the jobs still queued with Draining."""
        with self._cond:
            self._stopped = True
            left = list(self._jobs)
            self._jobs.clear()
            self._cond.notify_all()
        for job in left:
            job.outcome = (None, _draining())
        _answer(left)
        deadline = time.monotonic() + wait
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._threads = [thread for thread in self._threads if thread.is_alive()]

    def open(self) -> None:
        """Take jobs again after stop (a server started anew in the same process)."""
        with self._cond:
            self._stopped = False

    def _start(self) -> None:
        for number in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"inference-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self._run(batch)
            except Exception as exc:  # a bug here must not leave requests waiting for ever
                for job in batch:
                    if job.outcome is None:
                        job.outcome = (None, exc)
            _answer(batch)

    def _take(self) -> list[Job] | None:
        """The next batch: the oldest job, then more while they fit and arrive in time."""
        with self._cond:
            while not self._jobs and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return None
            batch = [self._jobs.popleft()]
            size = batch[0].size
            deadline = time.monotonic() + self.wait_seconds
            while size < self.max_images and not self._stopped:
                if self._jobs:
                    if size + self._jobs[0].size > self.max_images:
                        break
                    batch.append(self._jobs.popleft())
                    size += batch[-1].size
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._jobs:
                self._cond.notify()  # another worker can start on the rest now
            return batch

    def _run(self, batch: list[Job]) -> None:
        """Prepare each job, run the model once per model in the batch, set outcomes."""
        prepared: dict[int, tuple[LoadedModel, list[tuple[Job, np.ndarray]]]] = {}
        for job in batch:
            if job.abandoned:
                job.outcome = (None, Abandoned())
                continue
            try:
                examples = job.prepare()
            except Exception as exc:  # the job's own fault (e.g. a corrupt image): it fails alone
                job.outcome = (None, exc)
                continue
            prepared.setdefault(id(job.model), (job.model, []))[1].append((job, examples))
        for model, jobs in prepared.values():  # more than one only across a model reload
            try:
                self.metrics.run_batch_size.observe(sum(len(examples) for _, examples in jobs))
                probs = model.probabilities(np.concatenate([examples for _, examples in jobs]), self.metrics)
            except Exception as exc:
                for job, _ in jobs:
                    job.outcome = (None, exc)
                continue
            start = 0
            for job, examples in jobs:
                rows = probs[start : start + len(examples)]
                start += len(examples)
                # Judged per job: one request's rows must not fail the others in its run.
                job.outcome = (rows, None) if np.isfinite(rows).all() else (None, _non_finite(rows))


def _non_finite(rows: np.ndarray) -> RuntimeError:
    return RuntimeError(f"model output has non-finite values for {len(rows)} example(s) of one request")


def _draining() -> Draining:
    return Draining("the server is shutting down; retry on another replica", retry_after=1)


def _answer(jobs: list[Job]) -> None:
    """Set every job's future on its event loop, one wake-up per loop."""
    by_loop: dict[int, tuple[asyncio.AbstractEventLoop, list[Job]]] = {}
    for job in jobs:
        loop = job.future.get_loop()
        by_loop.setdefault(id(loop), (loop, []))[1].append(job)
    for loop, members in by_loop.values():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(_set_outcomes, members)


def _set_outcomes(jobs: list[Job]) -> None:
    for job in jobs:
        if job.future.done() or job.outcome is None:
            continue
        result, error = job.outcome
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
