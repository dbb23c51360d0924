"""Body size limit before the body is read, concurrency cap, request timeout."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import tempfile
import threading
import time
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from {{ cookiecutter.package_name }}.serve import Settings
from {{ cookiecutter.package_name }}.serve.middleware.limits import BodyLimitMiddleware

from .support import BLACK, WHITE, LiveServer, running_client, wait_ready, write_model


def _read_response(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


def test_declared_content_length_over_limit_is_refused_before_any_body(
    live_server: Callable[..., LiveServer],
) -> None:
    with (
        live_server(max_body_bytes=4096) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"
        )  # no body is ever sent: the answer must come anyway
        status, body = _read_response(sock)
        assert status == 413
        assert body["error"]["code"] == "body_too_large"


def test_chunked_body_is_cut_off_once_over_limit(live_server: Callable[..., LiveServer]) -> None:
    with (
        live_server(max_body_bytes=4096) as server,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"x" * 1024
        for _ in range(6):  # 6 KiB sent, the stream is left open: the answer must not wait for its end
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        status, body = _read_response(sock)
        assert status == 413
        assert body["error"]["code"] == "body_too_large"


def test_streamed_body_stops_being_read_past_the_limit() -> None:
    """At the ASGI level: the app never receives more than the limit (plus one message)."""
    received = 0
    sent: list[MutableMapping[str, Any]] = []

    async def endless_body() -> dict[str, Any]:
        nonlocal received
        received += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"transfer-encoding", b"chunked")],
    }
    asyncio.run(BodyLimitMiddleware(app, max_bytes=10_000)(scope, endless_body, send))
    assert received == 11
    assert sent[0]["status"] == 413


def test_http_client_with_streaming_body(live_server: Callable[..., LiveServer]) -> None:
    def body() -> Any:
        for _ in range(100):
            yield b"y" * 1024

    with live_server(max_body_bytes=4096) as server, server.client() as client:
        response = client.post("/v1/predict", content=body(), headers={"content-type": "application/json"})
        assert response.status_code == 413
        response = client.post("/v1/predict", files={"files": ("a.png", b"z" * 10_000)})
        assert response.status_code == 413


def _slow_model(tmp_path: Path, slow_k: float) -> Path:
    return write_model(tmp_path / "slow", "slow", slow_k=slow_k)


def test_concurrency_cap_gives_503_with_retry_after(
    live_server: Callable[..., LiveServer], tmp_path: Path, slow_k: float
) -> None:
    with (
        live_server(model_dir=_slow_model(tmp_path, slow_k), max_concurrency=1) as server,
        server.client() as client,
    ):
        wait_ready(client)
        results: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: results.append(client.post("/v1/predict", files={"files": ("w.png", WHITE)}))
        )
        slow.start()
        deadline = time.monotonic() + 5
        while "model_inferences_in_flight 1.0" not in client.get("/metrics").text:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        busy = client.post("/v1/predict", files={"files": ("b.png", BLACK)})
        assert busy.status_code == 503
        assert busy.headers["retry-after"] == "1"
        assert busy.json()["error"]["code"] == "overloaded"
        assert client.get("/livez").status_code == 200  # the event loop is not blocked
        slow.join()
        assert results[0].status_code == 200
        assert client.post("/v1/predict", files={"files": ("b.png", BLACK)}).status_code == 200


def test_timeout_gives_504_with_retry_after(
    live_server: Callable[..., LiveServer], tmp_path: Path, slow_k: float
) -> None:
    model = _slow_model(tmp_path, slow_k)
    with live_server(model_dir=model, request_timeout=0.2) as server, server.client() as client:
        wait_ready(client)
        started = time.monotonic()
        response = client.post("/v1/predict", files={"files": ("w.png", WHITE)})
        assert time.monotonic() - started < 1.0
        assert response.status_code == 504
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "timeout"
        assert client.post("/v1/predict", files={"files": ("b.png", BLACK)}).status_code == 200


def _send_head(sock: socket.socket, length: int, body: bytes = b"") -> None:
    sock.sendall(
        b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (length, body)
    )


def test_a_stalled_body_gets_408_within_body_timeout(live_server: Callable[..., LiveServer]) -> None:
    with (
        live_server(body_timeout=0.5) as server,
        server.client() as client,
        socket.create_connection(("127.0.0.1", server.port)) as sock,
    ):
        wait_ready(client)
        started = time.monotonic()
        _send_head(sock, 1000, b'{"images": [')  # then nothing more
        status, body = _read_response(sock)
        assert status == 408
        assert body["error"]["code"] == "body_timeout"
        assert time.monotonic() - started < 5
        assert client.post("/v1/predict", files={"files": ("b.png", BLACK)}).status_code == 200


def test_an_overloaded_server_answers_503_without_reading_the_body(
    live_server: Callable[..., LiveServer],
) -> None:
    """The MAX_CONCURRENCY slot is taken before the body is read, and given back on a disconnect."""
    with (
        live_server(max_concurrency=1, body_timeout=30) as server,
        server.client() as client,
    ):
        wait_ready(client)
        with socket.create_connection(("127.0.0.1", server.port)) as slow:
            _send_head(slow, 1000, b'{"images": [')  # holds the only slot while its body trickles
            deadline = time.monotonic() + 5
            while "model_inferences_in_flight 1.0" not in client.get("/metrics").text:
                assert time.monotonic() < deadline, "the stalled request never took the slot"
                time.sleep(0.01)
            with socket.create_connection(("127.0.0.1", server.port)) as second:
                _send_head(second, 5_000_000)  # none of the 5 MB is ever sent
                status, body = _read_response(second)
            assert status == 503
            assert body["error"]["code"] == "overloaded"
        deadline = time.monotonic() + 5  # the slow client hung up: its slot comes back
        while client.post("/v1/predict", files={"files": ("b.png", BLACK)}).status_code != 200:
            assert time.monotonic() < deadline, "the slot of a disconnected client was never released"
            time.sleep(0.05)


def test_an_upload_over_a_mebibyte_never_touches_the_temp_directory(
    make_settings: Callable[..., Settings], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Multipart file parts stay in memory (the body is bounded by MAX_BODY_BYTES already);
    Starlette's default spools parts over 1 MiB to a temporary file, which a small /tmp
    volume turns into errors under concurrent uploads."""
    noise = np.random.default_rng(0).integers(0, 256, (800, 800, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, format="PNG", compress_level=0)
    assert buffer.tell() > 1 << 20
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-directory"))
    with running_client(make_settings()) as client:
        response = client.post("/v1/predict", files={"files": ("noise.png", buffer.getvalue())})
    assert response.status_code == 200, response.text
