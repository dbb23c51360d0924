"""Observability of every request: request id, metrics by route template, JSON access log.

Also sets X-Content-Type-Options: nosniff on every response that passes through it, and
answers an unexpected error itself (logged with its traceback, a JSON 500 without
internals), so a 500 carries the request id too. Metric labels never take raw client
input: a method outside ``KNOWN_METHODS`` is counted as "other" and a path that matches
no route as "unmatched", so made-up methods and paths cannot grow the number of time
series; the access log cuts long methods and paths short.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import INTERNAL_ERROR
from ..metrics import Metrics
from .limits import send_error

logger = logging.getLogger(__name__)
access_logger = logging.getLogger(__package__.rsplit(".", 1)[0] + ".access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_NOSNIFF = (b"x-content-type-options", b"nosniff")
_MAX_LOGGED = {"method": 16, "path": 512}  # characters of client input in one log line


class ObservabilityMiddleware:
    """Request id, in-flight gauge, request metrics by route template, and a JSON access log."""

    def __init__(self, app: ASGIApp, metrics: Metrics, routes: Callable[[], Sequence[BaseRoute]]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status, started_response = message["status"], True
                headers = list(message.get("headers", []))
                if not any(name.lower() == _NOSNIFF[0] for name, _ in headers):
                    headers.append(_NOSNIFF)
                message["headers"] = [*headers, (b"x-request-id", request_id.encode())]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            method, path = _cut(scope["method"], "method"), _cut(scope["path"], "path")
            logger.exception("unhandled error on %s %s", method, path)
            if started_response:  # nothing more can be sent
                raise
            await send_error(send_with_id, scope, 500, "internal_error", INTERNAL_ERROR)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = self._route_template(scope)
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            labels = {"method": method, "route": route, "status": str(status)}
            self.metrics.requests.labels(**labels).inc()
            self.metrics.request_latency.labels(**labels).observe(elapsed)
            client = scope.get("client")
            access_logger.info(
                "%s %s %s",
                _cut(scope["method"], "method"),
                _cut(scope["path"], "path"),
                status,
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": _cut(scope["method"], "method"),
                        "path": _cut(scope["path"], "path"),
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": f"{client[0]}:{client[1]}" if client else None,
                        "user_agent": _header(scope, b"user-agent"),
                    }
                },
            )

    def _route_template(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        for candidate in self.routes():  # Starlette routes (docs, openapi.json) set no "route"
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                return str(getattr(candidate, "path", "unmatched"))
        return "unmatched"  # never the raw path: it would blow up label cardinality


def _cut(value: str, kind: str) -> str:
    limit = _MAX_LOGGED[kind]
    return value if len(value) <= limit else value[:limit] + "..."


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")[:256]
    return None


def _request_id(scope: Scope) -> str:
    given = _header(scope, b"x-request-id")
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
