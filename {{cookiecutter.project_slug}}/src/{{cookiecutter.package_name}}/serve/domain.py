"""Domain errors of the server: what went wrong, in words a client may read.

These know nothing about HTTP; ``errors.py`` is the one place that maps each kind to a
status code and a JSON body. ``message`` is shown to the client, so it never carries
file paths or library messages; the full detail goes to the log where it is raised.
"""

from __future__ import annotations

from ..artifacts import ModelDirError


class ServeError(Exception):
    """Base of the errors a client hears about; ``code`` is stable and machine-readable.

    ``retry_after`` (seconds) becomes a Retry-After header when set.
    """

    code = "error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class BadImage(ServeError):
    """An uploaded image cannot be used (the client's fault)."""

    code = "bad_image"


class EmptyImage(BadImage):
    """An upload of 0 bytes."""

    code = "empty_image"


class NotAnImage(BadImage):
    """Bytes in no known image format."""

    code = "not_an_image"


class UnsupportedImageFormat(BadImage):
    """An image in a format outside the allow-list (identified from its magic bytes only)."""

    code = "unsupported_image_format"


class UnsupportedImage(BadImage):
    """An image in an allowed format whose pixel layout cannot be turned into model input."""

    code = "unsupported_image"


class CorruptedImage(BadImage):
    """An allowed format with a broken header or truncated, malformed pixel data."""

    code = "corrupted_image"


class ImageTooLarge(BadImage):
    """One image has more pixels than MAX_IMAGE_PIXELS (known from its header)."""

    code = "image_too_large"


class RequestPixelsTooLarge(BadImage):
    """The images of one request add up to more pixels than MAX_REQUEST_PIXELS."""

    code = "request_too_large"


class Unavailable(ServeError):
    """The server cannot answer now; another replica or a later retry may."""

    code = "unavailable"


class ModelNotReady(Unavailable):
    """No model is loaded yet (missing or broken model directory, or still loading)."""

    code = "model_not_ready"


class Draining(Unavailable):
    """The server got SIGTERM and is finishing the requests in flight."""

    code = "draining"


class Overloaded(Unavailable):
    """All MAX_CONCURRENCY inference slots are taken."""

    code = "overloaded"


class ReloadFailed(Unavailable):
    """A requested reload failed; the previous model, if any, is still served."""

    code = "reload_failed"


class InferenceTimeout(ServeError):
    """An inference took longer than REQUEST_TIMEOUT."""

    code = "timeout"


class ModelLoadError(ModelDirError):
    """A model directory that cannot be served.

    ``str(error)`` is the full detail (paths, ONNX Runtime's message) for the log;
    ``reason`` says in plain words what is wrong, safe to show to clients.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
