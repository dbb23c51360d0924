"""Admission of inference requests: a MAX_CONCURRENCY slot, then the job off the event loop.

The slot is taken before the request body is read, so at most MAX_CONCURRENCY bodies are
in memory at once and an overloaded replica answers 503 without reading an upload. It
is held until the inference thread ends, also when the client was answered 504 first:
work whose client gave up is bounded by the same slots, never piled up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from .domain import InferenceTimeout, Overloaded
from .lifecycle import ServerState

T = TypeVar("T")


class Admission:
    """``async with Admission(state) as admitted: ... await admitted.run(func, *args)``.

    Entering raises Overloaded (503) when MAX_CONCURRENCY slots are taken; ``run`` raises
    InferenceTimeout (504) after REQUEST_TIMEOUT. Leaving before ``run`` gives the slot
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

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """``func(*args)`` on the inference threads, awaited for at most REQUEST_TIMEOUT."""
        job = asyncio.get_running_loop().run_in_executor(self.state.executor, func, *args)
        self._handed_over = True
        job.add_done_callback(self.state.release)  # the slot is held until the thread is done
        timeout = self.state.settings.request_timeout
        try:
            return await asyncio.wait_for(asyncio.shield(job), timeout)
        except TimeoutError:
            raise InferenceTimeout(
                f"inference took longer than {timeout}s (REQUEST_TIMEOUT); "
                "retry, or send fewer images per request",
                retry_after=1,
            ) from None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if not self._handed_over:
            self.state.release()
