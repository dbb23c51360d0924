"""One JSON error shape for every failure: ``{"error": {"code": ..., "message": ...}}``
(under /v2, the Open Inference Protocol's ``{"error": ...}``; see ``error_body``).

A client's mistake is always a 4xx that says what is wrong and how to fix it; an
unexpected failure is a 500 that leaks nothing about the server's internals. This is
the one module that turns errors into HTTP: the domain errors of ``domain.py`` (raised
by the predictor and the server state) get their status code here (``status_of``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .domain import (
    BadImage,
    ImageTooLarge,
    InferenceTimeout,
    RequestPixelsTooLarge,
    ServeError,
    Unavailable,
    UnsupportedImage,
    UnsupportedImageFormat,
)


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, machine-readable error code.", examples=["not_an_image"])
    message: str = Field(description="What is wrong and how to fix it.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """An error with an HTTP status, a stable code and a message meant for the client."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = headers


class BodyTooLarge(StarletteHTTPException):
    """Raised while a request body is received once it passes MAX_BODY_BYTES.

    It is an HTTPException so that FastAPI's body parsing re-raises it as it is
    instead of turning it into a generic 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=body_too_large_message(limit))


def body_too_large_message(limit: int) -> str:
    """The message of a 413 for a body over ``limit`` bytes."""
    return (
        f"request body is larger than the limit of {limit} bytes (MAX_BODY_BYTES); "
        "send fewer or smaller images per request"
    )


# The Open Inference Protocol's paths, whose errors are {"error": "<message>"}.
V2_PREFIX = "/v2"
# The message of a 500: nothing about the server's internals.
INTERNAL_ERROR = "internal server error; the request was logged, try again later"

# Sent with every response (the observability middleware adds it to the others): a
# browser must never sniff an error body or a prediction into HTML.
NOSNIFF = ("X-Content-Type-Options", "nosniff")

# Most specific first: the first class the error is an instance of gives its status.
_DOMAIN_STATUS: tuple[tuple[type[ServeError], int], ...] = (
    (ImageTooLarge, 413),
    (RequestPixelsTooLarge, 413),
    (UnsupportedImageFormat, 415),
    (UnsupportedImage, 422),
    (BadImage, 400),
    (Unavailable, 503),
    (InferenceTimeout, 504),
)


def status_of(error: ServeError) -> int:
    """The HTTP status of a domain error (500 for a kind that has none)."""
    for kind, status in _DOMAIN_STATUS:
        if isinstance(error, kind):
            return status
    return 500


def error_body(code: str, message: str, path: str = "") -> dict[str, Any]:
    """The JSON error body of a request to ``path``: ``{"error": {"code": code, "message":
    message}}``, or under /v2 the Open Inference Protocol's ``{"error": message}``."""
    if path.startswith(V2_PREFIX):
        return {"error": message}
    return {"error": {"code": code, "message": message}}


def error_response(
    status_code: int,
    code: str,
    message: str,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
) -> JSONResponse:
    """A JSON error response (``error_body`` of the request's path) with ``headers`` and
    X-Content-Type-Options: nosniff."""
    return JSONResponse(
        error_body(code, message, request.url.path if request is not None else ""),
        status_code=status_code,
        headers={**(headers or {}), NOSNIFF[0]: NOSNIFF[1]},
    )


# Codes for errors raised by Starlette/FastAPI themselves.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}

_HTTP_MESSAGES = {
    404: "no such endpoint; see /docs for the API",
    405: "method not allowed on this endpoint; see /docs for the API",
}


def _describe_validation_error(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        location = ".".join(str(item) for item in err.get("loc", ()) if item != "body")
        parts.append(f"{location or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) + " (see /docs for the request schema)"


async def _api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.headers, request)


async def _domain_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServeError)
    headers = None
    if exc.retry_after is not None:
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return error_response(status_of(exc), exc.code, exc.message, headers, request)


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    if status >= 500:
        message = "internal server error"
    elif status in _HTTP_MESSAGES:
        message = _HTTP_MESSAGES[status]
    else:
        message = str(exc.detail)
    return error_response(status, code, message, dict(exc.headers or {}) or None, request)


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_request", _describe_validation_error(exc), request=request)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error raised while handling a request with the JSON error shape."""
    app.add_exception_handler(ApiError, _api_error_handler)
    app.add_exception_handler(ServeError, _domain_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    # Any other exception: the observability middleware logs it and answers INTERNAL_ERROR.


def _doc(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc(
        "Bad input: empty body, no files, invalid base64, not an image, corrupted image, too many images."
    ),
    408: _doc("The request body did not arrive within BODY_TIMEOUT seconds."),
    413: _doc(
        "Request body over MAX_BODY_BYTES, an image over MAX_IMAGE_PIXELS, "
        "or images adding up to more than MAX_REQUEST_PIXELS."
    ),
    415: _doc(
        "Unsupported Content-Type (use multipart/form-data or application/json), or an image "
        "format outside PNG, JPEG, BMP, GIF, TIFF and WebP."
    ),
    422: _doc(
        "A parameter is out of range, the JSON body does not follow the schema, "
        "or an image's pixel format cannot be converted."
    ),
    500: _doc("Unexpected server error (details are logged, never returned)."),
    503: _doc(
        "Model not loaded yet, server draining, or MAX_CONCURRENCY requests in flight (see Retry-After)."
    ),
    504: _doc("Inference did not finish within REQUEST_TIMEOUT (see Retry-After)."),
}
