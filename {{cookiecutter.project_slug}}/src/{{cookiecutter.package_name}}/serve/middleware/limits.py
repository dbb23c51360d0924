"""Request body limit: 413 before a body over MAX_BODY_BYTES is read whole."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BodyTooLarge, body_too_large_message, error_body


class BodyLimitMiddleware:
    """Rejects bodies over ``max_bytes`` with 413 before they are read whole.

    A declared Content-Length over the limit is refused before any byte of the body is
    received; a chunked body is counted as it streams in and cut off once it passes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await send_error(send, scope, 400, "bad_request", "Content-Length is not a number")
                    return
                if declared > self.max_bytes:
                    message = body_too_large_message(self.max_bytes)
                    await send_error(send, scope, 413, "body_too_large", message)
                    return
        received = 0
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await send_error(send, scope, 413, "body_too_large", body_too_large_message(self.max_bytes))


async def send_error(
    send: Send,
    scope: Scope,
    status: int,
    code: str,
    message: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    """Answer with the JSON error shape of ``scope``'s path (see ``errors.error_response``)
    straight on the ASGI ``send``, closing the connection."""
    body = json.dumps(error_body(code, message, str(scope.get("path", "")))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
