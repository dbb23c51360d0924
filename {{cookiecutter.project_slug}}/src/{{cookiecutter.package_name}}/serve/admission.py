"""Admission of inference requests: a MAX_CONCURRENCY slot, then the job on the inference workers.

The slot is taken before the request body is read, so at most MAX_CONCURRENCY bodies are
in memory at once and an overloaded replica answers 503 without reading an upload. It
is held until the job ends, also when the client was answered 504 first: work whose
client gave up is bounded by the same slots, never piled up, and dropped if no worker
has started it yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

import numpy as np

from .domain import InferenceTimeout, Overloaded
from .lifecycle import ServerState
from .predictor import LoadedModel


class Admission:
    """``async with Admission(state) as admitted: ... await admitted.infer(model, n, prepare)``.

    Entering raises Overloaded (503) when MAX_CONCURRENCY slots are taken; ``infer`` raises
    InferenceTimeout (504) after REQUEST_TIMEOUT. Leaving before ``infer`` gives the slot
    back at once; after it, the job's end does.
    """

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._handed_over = False

    async def __aenter__(self) -> Admission:
        if not self.state.try_acquire():
            raise Overloaded(
                f"{self.state.settings.max_concurrency} requests already in flight (MAX_CONCURRENCY); "
                "retry shortly",
                retry_after=1,
            )
        return self

    async def infer(self, model: LoadedModel, size: int, prepare: Callable[[], np.ndarray]) -> np.ndarray:
        """Probabilities [size, classes] of the examples prepare() returns: prepared and
        run on an inference worker, batched with other requests' examples (batching.py),
        awaited for at most REQUEST_TIMEOUT. Raises what prepare or the model raised,
        or InferenceTimeout; a job not started when its client stops waiting is dropped."""
        job = self.state.batcher.submit(model, size, prepare)
        self._handed_over = True
        job.future.add_done_callback(self.state.release)  # the slot is held until the job is done
        timeout = self.state.settings.request_timeout
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except TimeoutError:
            job.abandoned = True
            raise InferenceTimeout(
                f"inference took longer than {timeout}s (REQUEST_TIMEOUT); "
                "retry, or send fewer images per request",
                retry_after=1,
            ) from None
        except asyncio.CancelledError:  # the client went away
            job.abandoned = True
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self._handed_over:
            self.state.release()
