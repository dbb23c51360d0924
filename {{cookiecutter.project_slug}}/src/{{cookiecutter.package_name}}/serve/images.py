"""Uploaded image bytes to model input, with every failure a domain error (a 4xx).

Only the formats in ``ALLOWED_FORMATS`` are parsed at all: anything else is named from
its magic bytes and refused before a Pillow plugin reads it. Sizes come from the header
(``open_image``), so the pixel limits hold before a single pixel is decoded; the pixels
are decoded one image at a time (``to_model_input``).
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..artifacts import Preprocessing
from ..data import preprocess_image, upright
from .domain import (
    CorruptedImage,
    EmptyImage,
    ImageTooLarge,
    NotAnImage,
    RequestPixelsTooLarge,
    UnsupportedImage,
    UnsupportedImageFormat,
)

logger = logging.getLogger(__name__)

# Oversized images are rejected by open_image with a 413 before their pixels are
# decoded; Pillow's own warning for them would only be noise.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

ALLOWED_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
_ALLOWED_TEXT = "PNG, JPEG, BMP, GIF, TIFF or WebP"
# Formats Pillow has no plugin for, but that clients send by mistake.
_SIGNATURES = {b"%PDF": "PDF", b"%!PS": "PostScript"}


def open_image(data: bytes, name: str, max_pixels: int) -> Image.Image:
    """Parse the header of one upload (no pixel is decoded yet).

    ``name`` is how messages refer to the image. Raises EmptyImage, NotAnImage,
    UnsupportedImageFormat (a format outside ``ALLOWED_FORMATS``), ImageTooLarge (width
    times height over ``max_pixels``) or CorruptedImage.
    """
    if not data:
        raise EmptyImage(f"{name} is empty (0 bytes); send the image file's bytes")
    try:
        image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        other = _sniff_format(data)
        if other is not None:
            raise UnsupportedImageFormat(
                f"{name} is in a format the server does not accept ({other}); send {_ALLOWED_TEXT}"
            ) from None
        raise NotAnImage(
            f"{name} is not an image in a format the server can read; send {_ALLOWED_TEXT}"
        ) from None
    except Image.DecompressionBombError:
        raise _too_many_pixels(name, max_pixels) from None
    except Exception as exc:  # any other failure to parse the header is the file's fault
        raise _corrupted(name, exc) from None
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise _too_many_pixels(name, max_pixels, width, height)
    if width == 0 or height == 0:
        image.close()
        raise CorruptedImage(f"{name} has no pixels ({width}x{height})")
    return image


def check_request_pixels(images: Sequence[Image.Image], limit: int) -> None:
    """Raise RequestPixelsTooLarge when the images' pixel counts (headers) add up past ``limit``."""
    total = sum(image.size[0] * image.size[1] for image in images)
    if total > limit:
        raise RequestPixelsTooLarge(
            f"the images of this request have {total} pixels in all; the limit is {limit} pixels "
            "per request (MAX_REQUEST_PIXELS), send fewer or smaller images"
        )


def to_model_input(image: Image.Image, name: str, pre: Preprocessing) -> np.ndarray:
    """Decode an opened image and turn it into one example of model input (float32).

    The decoded full-size image is dropped on return. Raises CorruptedImage for
    truncated or malformed pixel data and UnsupportedImage for a pixel layout that
    cannot be converted to the model's color mode.
    """
    try:
        image = upright(image)
    except Exception as exc:  # truncated or malformed pixel data
        raise _corrupted(name, exc) from None
    try:  # the same functions as training's, which also normalise the mode
        return preprocess_image(image, pre)
    except Exception as exc:  # Pillow cannot convert or resize this layout
        logger.info("cannot convert %s (mode %s): %s", name, image.mode, exc)
        raise UnsupportedImage(
            f"{name} has a pixel format (mode {image.mode}) the server cannot convert; "
            "send an 8-bit grayscale or RGB image"
        ) from None


def _sniff_format(data: bytes) -> str | None:
    """The format of ``data`` from its magic bytes only (no plugin parses it), if known."""
    prefix = data[:16]
    for signature, name in _SIGNATURES.items():
        if prefix.startswith(signature):
            return name
    Image.init()
    for name, (_, accept) in Image.OPEN.items():
        if name in ALLOWED_FORMATS or accept is None:
            continue
        try:
            if accept(prefix):
                return name
        except Exception:  # a plugin's check that chokes on short input: not that format
            continue
    return None


def _too_many_pixels(name: str, limit: int, width: int = 0, height: int = 0) -> ImageTooLarge:
    size = f" ({width}x{height})" if width else ""
    return ImageTooLarge(
        f"{name} has too many pixels{size}; the limit is {limit} pixels (MAX_IMAGE_PIXELS), "
        "downscale it before sending"
    )


def _corrupted(name: str, exc: Exception) -> CorruptedImage:
    logger.info("cannot decode %s: %s", name, exc)  # Pillow's words stay in the log
    return CorruptedImage(f"{name} is corrupted or truncated; send the complete file")
