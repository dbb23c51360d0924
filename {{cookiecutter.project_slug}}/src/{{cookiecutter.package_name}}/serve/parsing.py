"""Request bodies of /v1/predict to uploads: multipart files, or JSON with base64 images."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import sys
from typing import NamedTuple

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from .errors import ApiError, BodyTooLarge
from .schemas import PredictJsonRequest
from .settings import Settings

_DATA_URL = re.compile(r"^data:[\w.+/-]*;base64,", re.IGNORECASE)
JSON_EXAMPLE = '{"images": ["<base64>", ...], "top_k": 3}'


class _InMemoryMultiPartParser(MultiPartParser):
    """Starlette's multipart parser, keeping file parts in memory instead of spooling those
    over 1 MiB to a temporary file: the body is in memory already, bounded by MAX_BODY_BYTES,
    and /tmp is a small memory volume in the containers."""

    spool_max_size = sys.maxsize


class Upload(NamedTuple):
    """One uploaded image file: ``name`` is how error messages refer to it."""

    name: str
    filename: str | None
    data: bytes


async def read_body(request: Request, settings: Settings) -> bytes:
    """The whole request body, which must arrive within BODY_TIMEOUT seconds.

    Raises ApiError 408 (too slow) or 400 (the client disconnected mid-body);
    BodyTooLarge (413) passes through from the body limit middleware.
    """
    try:
        return await asyncio.wait_for(request.body(), settings.body_timeout)
    except ClientDisconnect:  # nobody to answer; logged and counted as the client's error
        raise ApiError(400, "client_disconnected", "the client closed the connection mid-body") from None
    except TimeoutError:
        raise ApiError(
            408,
            "body_timeout",
            f"the request body did not arrive within {settings.body_timeout:g} s (BODY_TIMEOUT); "
            "send it in one go",
            headers={"Connection": "close"},
        ) from None


async def read_images(request: Request, settings: Settings) -> tuple[list[Upload], int | None]:
    """Each image of a predict request, and top_k when a JSON body gives it.

    Multipart images come from the file parts ``files`` (or ``file``); JSON ones from the
    base64 strings of ``images``. Raises ApiError: 400 (empty body, unparsable or
    imageless body, invalid base64, more than MAX_BATCH images), 415 (other Content-Type)
    or 422 (JSON against the schema), 408 (the body took longer than BODY_TIMEOUT);
    BodyTooLarge passes through.
    """
    body = await read_body(request, settings)
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
    parser = _InMemoryMultiPartParser(
        request.headers,
        request.stream(),  # the body read already, replayed
        max_files=2 * settings.max_batch + 2,
        max_fields=2 * settings.max_batch + 16,
    )
    try:
        form = await parser.parse()
    except BodyTooLarge:
        raise
    except Exception as exc:  # MultiPartException, or python-multipart's own on a malformed body
        # Starlette's messages are written for clients; anything else may name internals.
        detail = exc.message if isinstance(exc, MultiPartException) else "malformed multipart body"
        if "too many files" in detail.lower():
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
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise ApiError(
            400, "invalid_json", f"the body is not valid JSON ({exc}); send {JSON_EXAMPLE}"
        ) from None
    try:
        parsed = PredictJsonRequest.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}" for err in exc.errors()[:5]
        )
        raise ApiError(422, "invalid_request", f"{problems}; expected {JSON_EXAMPLE}") from None
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
