"""The HTTP API: ``create_app(settings)`` builds a FastAPI app around a ModelManager."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
import re
import signal
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from PIL import Image
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from ..artifacts import ModelDirError
from .errors import (
    ERROR_RESPONSES,
    ApiError,
    BodyTooLarge,
    ErrorResponse,
    body_too_large_message,
    error_body,
    install_error_handlers,
)
from .metrics import Metrics
from .predictor import ClassScore, LoadedModel, ModelManager, decode_image
from .settings import Settings

logger = logging.getLogger(__name__)
access_logger = logging.getLogger(__name__.rsplit(".", 1)[0] + ".access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_DATA_URL = re.compile(r"^data:[\w.+/-]*;base64,", re.IGNORECASE)
_MAX_TOP_K = 1000
_JSON_EXAMPLE = '{"images": ["<base64>", ...], "top_k": 3}'


# --------------------------------------------------------------------------- models


class Upload(NamedTuple):
    name: str  # how error messages refer to the image
    filename: str | None
    data: bytes


class ClassProbability(BaseModel):
    label: str = Field(description="Class label from labels.json.")
    class_index: int = Field(description="Index of the class in the model's output.")
    probability: float = Field(ge=0.0, le=1.0)


class ImagePrediction(BaseModel):
    index: int = Field(description="Position of the image in the request.")
    filename: str | None = Field(default=None, description="Upload file name, for multipart.")
    top_k: list[ClassProbability] = Field(description="Most likely classes, most likely first.")


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[ImagePrediction]


class PredictJsonRequest(BaseModel):
    images: list[str] = Field(description="Base64-encoded image files (data: URLs are accepted).")
    top_k: int | None = Field(default=None, ge=1, le=_MAX_TOP_K)


class StatusResponse(BaseModel):
    status: str
    model_version: str | None = None


class ModelInfoResponse(BaseModel):
    model_version: str
    loaded_at: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    labels: list[str]


class ReloadResponse(BaseModel):
    model_version: str
    previous_model_version: str | None
    swapped: bool = Field(description="False when the model on disk was already being served.")


# ---------------------------------------------------------------------- app state


class ServerState:
    """Everything the routes share; deliberately free of objects bound to one event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.manager = ModelManager(settings.model_dir, settings.ort_threads, self.metrics)
        self.draining = False
        self._inflight = 0
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    @property
    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.settings.max_concurrency, thread_name_prefix="inference"
                )
            return self._executor

    def shutdown_executor(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def try_acquire(self) -> bool:
        with self._lock:
            if self._inflight >= self.settings.max_concurrency:
                return False
            self._inflight += 1
        self.metrics.inferences_in_flight.inc()
        return True

    def release(self, future: Future[Any] | asyncio.Future[Any] | None = None) -> None:
        with self._lock:
            self._inflight -= 1
        self.metrics.inferences_in_flight.dec()
        if future is not None and not future.cancelled():
            future.exception()  # retrieved, so a timed-out job's error is not reported as lost

    def ready_model(self) -> LoadedModel:
        """The model to serve this request with, or a 503 saying why there is none."""
        if self.draining:
            raise ApiError(
                503,
                "draining",
                "server is shutting down; retry on another replica",
                {"Retry-After": "1"},
            )
        model = self.manager.current
        if model is None:
            raise ApiError(
                503,
                "model_not_ready",
                f"no model loaded yet: {self.manager.last_error}; retry later",
                {"Retry-After": str(max(1, round(self.settings.model_retry_seconds)))},
            )
        return model


# -------------------------------------------------------------------- middlewares


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
                    await _send_error(send, 400, "bad_request", "Content-Length is not a number")
                    return
                if declared > self.max_bytes:
                    await _send_error(send, 413, "body_too_large", body_too_large_message(self.max_bytes))
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
            await _send_error(send, 413, "body_too_large", body_too_large_message(self.max_bytes))


async def _send_error(
    send: Send, status: int, code: str, message: str, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps(error_body(code, message)).encode()
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

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - started
            route = self._route_template(scope)
            labels = {"method": scope["method"], "route": route, "status": str(status)}
            self.metrics.requests.labels(**labels).inc()
            self.metrics.request_latency.labels(**labels).observe(elapsed)
            client = scope.get("client")
            access_logger.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")[:256]
    return None


def _request_id(scope: Scope) -> str:
    given = _header(scope, b"x-request-id")
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object per log line; ``extra={"fields": {...}}`` adds keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_config(level: str) -> dict[str, Any]:
    """logging.dictConfig for the server: JSON lines on stderr, no plain uvicorn access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


# --------------------------------------------------------------------- request parsing


async def _read_images(request: Request, settings: Settings) -> tuple[list[Upload], int | None]:
    """Each image in the request, and top_k from a JSON body."""
    body = await request.body()
    if not body:
        raise ApiError(
            400,
            "empty_body",
            "request body is empty; send images as multipart/form-data field 'files' or as "
            'JSON {"images": ["<base64>", ...]}',
        )
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _read_multipart(request, settings), None
    if media_type == "application/json" or media_type.endswith("+json"):
        return _read_json(body, settings)
    raise ApiError(
        415,
        "unsupported_media_type",
        f"Content-Type {media_type or '(none)'!r} is not supported; use multipart/form-data "
        "with image files in field 'files', or application/json with base64 images",
    )


async def _read_multipart(request: Request, settings: Settings) -> list[Upload]:
    try:
        form = await request.form(
            max_files=2 * settings.max_batch + 2, max_fields=2 * settings.max_batch + 16
        )
    except BodyTooLarge:
        raise
    except Exception as exc:  # MultiPartException or the HTTPException Starlette makes of it
        detail = exc.detail if isinstance(exc, StarletteHTTPException) else str(exc)
        if "too many files" in str(detail).lower():
            raise _too_many(settings.max_batch) from None
        raise ApiError(
            400,
            "invalid_multipart",
            f"the multipart body cannot be parsed ({detail}); send images as files in field "
            "'files', e.g. curl -F files=@digit.png",
        ) from None
    try:
        parts = [*form.getlist("files"), *form.getlist("file")]
        if not parts:
            fields = ", ".join(sorted(set(form.keys()))) or "none"
            raise ApiError(
                400,
                "no_files",
                f"no image files in the form (fields received: {fields}); send each image in "
                "field 'files' (or 'file'), e.g. curl -F files=@digit.png",
            )
        if len(parts) > settings.max_batch:
            raise _too_many(settings.max_batch, len(parts))
        images = []
        for number, part in enumerate(parts):
            if not isinstance(part, UploadFile):
                raise ApiError(
                    400,
                    "not_a_file",
                    f"form part {number} is a text field, not a file; upload the image as a file "
                    "part (curl -F files=@digit.png, not -F files=...)",
                )
            name = f"image {number} ({part.filename!r})" if part.filename else f"image {number}"
            images.append(Upload(name, part.filename, await part.read()))
        return images
    finally:
        await form.close()


def _read_json(body: bytes, settings: Settings) -> tuple[list[Upload], int | None]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, "invalid_json", f"the body is not valid JSON ({exc}); send {_JSON_EXAMPLE}"
        ) from None
    try:
        parsed = PredictJsonRequest.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise ApiError(422, "invalid_request", f"{problems}; expected {_JSON_EXAMPLE}") from None
    if not parsed.images:
        raise ApiError(400, "no_images", '"images" is empty; send at least one base64 image')
    if len(parsed.images) > settings.max_batch:
        raise _too_many(settings.max_batch, len(parsed.images))
    images = []
    for number, text in enumerate(parsed.images):
        encoded = "".join(_DATA_URL.sub("", text.strip(), count=1).split())
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError(
                400,
                "invalid_base64",
                f"images[{number}] is not valid base64; encode the file's bytes with standard "
                "base64 (RFC 4648, with padding)",
            ) from None
        images.append(Upload(f"images[{number}]", None, data))
    return images, parsed.top_k


def _too_many(limit: int, count: int | None = None) -> ApiError:
    got = f" ({count} sent)" if count is not None else ""
    return ApiError(
        400,
        "too_many_images",
        f"too many images in one request{got}; the limit is {limit} (MAX_BATCH), split the batch",
    )


def _run_batch(
    model: LoadedModel, images: list[Upload], top_k: int, state: ServerState
) -> list[list[ClassScore]]:
    """Decode, preprocess and infer one batch (runs on an inference thread)."""
    decoded: list[Image.Image] = [
        decode_image(item.data, item.name, state.settings.max_image_pixels) for item in images
    ]
    return model.predict(decoded, top_k, state.metrics)


# ------------------------------------------------------------------------ lifespan


async def _watch_model(state: ServerState) -> None:
    """Load the model until it is there, then (MODEL_POLL_SECONDS > 0) reload it on change."""
    settings, manager = state.settings, state.manager
    last_logged: str | None = None
    while manager.current is None:
        try:
            await run_in_threadpool(manager.load)
        except ModelDirError as exc:
            if str(exc) != last_logged:
                logger.warning("model not loaded, retrying every %ss: %s", settings.model_retry_seconds, exc)
                last_logged = str(exc)
            await asyncio.sleep(settings.model_retry_seconds)
    while settings.model_poll_seconds > 0:
        await asyncio.sleep(settings.model_poll_seconds)
        if manager.changed_on_disk():
            logger.info("model files in %s changed; reloading", settings.model_dir)
            with contextlib.suppress(ModelDirError):
                await _reload(state)


async def _reload(state: ServerState) -> tuple[LoadedModel | None, LoadedModel]:
    previous = state.manager.current
    try:
        new = await run_in_threadpool(state.manager.load)
    except ModelDirError as exc:
        logger.error("model reload failed, still serving %s: %s", previous.version if previous else None, exc)
        raise
    return previous, new


def _install_signal_handlers(state: ServerState) -> Callable[[], None]:
    """SIGTERM/SIGINT flip readiness to 503 (then uvicorn drains); SIGHUP reloads the model."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # e.g. TestClient: no signals there
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def drain(signum: int, frame: Any, previous: Any = previous) -> None:
            if not state.draining:
                logger.info(
                    "received %s: readiness is now 503, draining in-flight requests",
                    signal.Signals(signum).name,
                )
            state.draining = True
            state.metrics.model_ready.set(0)
            if callable(previous):
                previous(signum, frame)

        signal.signal(sig, drain)  # uvicorn restores its own handlers when it stops

    tasks: set[asyncio.Task[Any]] = set()

    def on_sighup() -> None:
        logger.info("received SIGHUP: reloading the model from %s", state.settings.model_dir)
        task = loop.create_task(_reload(state))
        tasks.add(task)
        task.add_done_callback(_forget(tasks))

    try:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    except (NotImplementedError, RuntimeError, ValueError, AttributeError):
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return remove


def _forget(tasks: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    """Done-callback: drop the finished task and retrieve its outcome (errors are logged)."""

    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()

    return done


# ----------------------------------------------------------------------------- app


def create_app(settings: Settings) -> FastAPI:
    state = ServerState(settings)
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.draining = False
        remove_signal_handlers = _install_signal_handlers(state)
        watcher = asyncio.create_task(_watch_model(state))
        logger.info(
            "serving on %s:%s, model directory %s",
            settings.host,
            settings.port,
            settings.model_dir,
            extra={"fields": {"settings": settings.public()}},
        )
        try:
            yield
        finally:
            state.draining = True
            state.metrics.model_ready.set(0)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            remove_signal_handlers()
            state.shutdown_executor()

    app = FastAPI(
        title="Digit classifier",
        version=__version__,
        description="Classifies images with an ONNX model. Every error is "
        '`{"error": {"code": ..., "message": ...}}`.',
        lifespan=lifespan,
    )
    app.state.server = state
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObservabilityMiddleware, metrics=state.metrics, routes=lambda: app.routes)

    @app.get("/livez", response_model=StatusResponse, tags=["health"])
    async def livez() -> StatusResponse:
        """The process is up (always 200 while it runs)."""
        return StatusResponse(status="alive")

    @app.get(
        "/readyz",
        response_model=StatusResponse,
        tags=["health"],
        responses={503: ERROR_RESPONSES[503]},
    )
    async def readyz() -> StatusResponse:
        """200 once a model is loaded and warmed up; 503 before that and while draining."""
        model = state.ready_model()
        return StatusResponse(status="ready", model_version=model.version)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text exposition format.",
            }
        },
    )
    async def metrics() -> Response:
        """Prometheus metrics."""
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    @app.get(
        "/v1/model",
        response_model=ModelInfoResponse,
        tags=["model"],
        responses={503: ERROR_RESPONSES[503]},
    )
    async def model_info() -> ModelInfoResponse:
        """The served model's manifest, evaluation metrics and labels."""
        model = state.ready_model()
        return ModelInfoResponse(
            model_version=model.version,
            loaded_at=model.loaded_at,
            manifest=model.model_dir.manifest.to_json(),
            metrics=model.model_dir.metrics,
            labels=model.model_dir.labels,
        )

    predict_body = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "maxItems": settings.max_batch,
                            "description": "Image files (any format Pillow reads).",
                        },
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A single image file.",
                        },
                    },
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["images"],
                    "properties": {
                        "images": {
                            "type": "array",
                            "items": {"type": "string", "format": "byte"},
                            "minItems": 1,
                            "maxItems": settings.max_batch,
                            "description": "Base64-encoded image files.",
                        },
                        "top_k": {"type": "integer", "minimum": 1, "maximum": _MAX_TOP_K},
                    },
                },
            },
        },
    }

    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        tags=["model"],
        responses=ERROR_RESPONSES,
        openapi_extra={"requestBody": predict_body},
    )
    async def predict(
        request: Request,
        top_k: int | None = Query(
            default=None,
            ge=1,
            le=_MAX_TOP_K,
            description=f"Classes per image (default {settings.top_k}); at most the class count.",
        ),
    ) -> PredictResponse:
        """Top-k classes for each image: multipart files, or JSON with base64 images."""
        model = state.ready_model()
        images, json_top_k = await _read_images(request, settings)
        k = json_top_k or top_k or min(settings.top_k, model.num_classes)
        if k > model.num_classes:
            raise ApiError(
                422,
                "top_k_out_of_range",
                f"top_k={k} but the model has {model.num_classes} classes; use 1..{model.num_classes}",
            )
        if not state.try_acquire():
            raise ApiError(
                503,
                "overloaded",
                f"{settings.max_concurrency} inferences already running (MAX_CONCURRENCY); retry shortly",
                {"Retry-After": "1"},
            )
        state.metrics.batch_size.observe(len(images))
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(state.executor, _run_batch, model, images, k, state)
        job.add_done_callback(state.release)  # the slot is held until the thread is done
        try:
            results = await asyncio.wait_for(asyncio.shield(job), settings.request_timeout)
        except TimeoutError:
            raise ApiError(
                504,
                "timeout",
                f"inference took longer than {settings.request_timeout}s (REQUEST_TIMEOUT); "
                "retry, or send fewer images per request",
                {"Retry-After": "1"},
            ) from None
        return PredictResponse(
            model_version=model.version,
            predictions=[
                ImagePrediction(
                    index=number,
                    filename=upload.filename,
                    top_k=[
                        ClassProbability(label=s.label, class_index=s.class_index, probability=s.probability)
                        for s in scores
                    ],
                )
                for number, (upload, scores) in enumerate(zip(images, results, strict=True))
            ],
        )

    if settings.enable_noop:

        @app.get("/v1/noop", response_model=StatusResponse, tags=["benchmark"])
        async def noop() -> StatusResponse:
            """Does nothing: the HTTP stack's own ceiling, for benchmarks (ENABLE_NOOP=1)."""
            return StatusResponse(status="ok")

    if settings.admin_token:
        token = settings.admin_token.encode()

        @app.post(
            "/admin/reload",
            response_model=ReloadResponse,
            tags=["admin"],
            responses={
                403: {"model": ErrorResponse, "description": "Missing or wrong token."},
                503: {
                    "model": ErrorResponse,
                    "description": "The new model failed to load; the previous one is still served.",
                },
            },
        )
        async def admin_reload(request: Request) -> ReloadResponse:
            """Load MODEL_DIR again and swap it in (header Authorization: Bearer ADMIN_TOKEN)."""
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
                raise ApiError(403, "forbidden", "send the header Authorization: Bearer <ADMIN_TOKEN>")
            try:
                previous, new = await _reload(state)
            except ModelDirError as exc:
                raise ApiError(503, "reload_failed", f"{exc}; still serving the previous model") from None
            return ReloadResponse(
                model_version=new.version,
                previous_model_version=previous.version if previous else None,
                swapped=previous is None or previous.fingerprint != new.fingerprint,
            )

    return app
