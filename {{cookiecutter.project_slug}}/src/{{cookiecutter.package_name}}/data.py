"""Image-folder data: listing, decoding and preprocessing, for training and serving.

Layout read by training (PNG or JPEG images, classes are the sorted folder names)::

    <root>/train/<class>/*.png
    <root>/val/<class>/*.png     optional: else a seeded, stratified share of train
    <root>/test/<class>/*.png

Training reports and selects on the validation split; the test split is evaluated once,
at the end, and is what metrics.json reports.

Every image, in training and in serving, goes through the same functions: ``upright``
(EXIF orientation applied), ``normalize_mode`` (any Pillow mode brought to one that
converts to L and RGB: palettes, alpha, 16-bit) and ``preprocess_image`` (color mode, size,
scale, normalisation, layout), so the model sees an uploaded file exactly as it saw the
same file in training. The color mode and input size follow the train split unless
COLOR_MODE / IMAGE_SIZE say otherwise (``splits.load_dataset``, which reads the splits a
batch at a time). The built-in data sets (digits, shapes) are written by ``datasets``;
this module needs only numpy and Pillow.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .artifacts import LAYOUTS, Preprocessing

SPLITS = ("train", "val", "test")
OPTIONAL_SPLITS = ("val",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
AUTO = "auto"
MAX_AUTO_SIDE = 224  # the automatic input size is the data's most common size, scaled down to this
_HIGH_BIT_DEPTH_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")
_BAND_ROWS = 64  # rows converted at a time from high bit depth
# Modes from which Image.convert reaches both "L" and "RGB".
_SAFE_MODES = ("1", "L", "LA", "RGB", "RGBA")


class DataError(RuntimeError):
    """The data directory is missing, malformed or has unreadable images."""


def upright(image: Image.Image) -> Image.Image:
    """Decode an opened image's pixels with its EXIF orientation applied, in place: the
    image itself comes back, not a copy (a 4096x4096 RGB photo would need 48 MiB more).

    Raises whatever Pillow raises for truncated or malformed pixel data.
    """
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    return image


def decode(image: Image.Image) -> Image.Image:
    """``upright``, in a mode from which ``preprocess_image`` converts (``normalize_mode``)."""
    return normalize_mode(upright(image))


def normalize_mode(image: Image.Image) -> Image.Image:
    """Bring any Pillow mode into one from which Image.convert reaches both L and RGB.

    Palettes become RGB (RGBA with transparency), premultiplied alpha plain alpha, 16-bit
    and float images are stretched to 8-bit grayscale over their own range; alpha is
    dropped later by ``preprocess_image``'s conversion.
    """
    if image.mode in _SAFE_MODES:
        return image
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        return _stretch_to_8bit(image)
    if image.mode == "La":  # premultiplied alpha: Pillow converts it to LA only
        return image.convert("LA")
    if image.mode == "RGBa":
        return image.convert("RGBA")
    if image.mode in ("P", "PA"):
        return image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
    try:
        return image.convert("RGBA" if "A" in image.getbands() else "RGB")
    except ValueError:  # e.g. LAB: Pillow has no conversion, its first band is lightness
        return image.getchannel(0)


def _stretch_to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit or float pixels stretched linearly to 8-bit grayscale over their finite
    range (non-finite pixels become black), a band of rows at a time: a 4096x4096 float
    image costs the 16 MiB result beyond its own pixels, not a float64 copy per step."""
    low, high = math.inf, -math.inf
    for _, band in _row_bands(image):
        finite = band[np.isfinite(band)] if band.dtype.kind == "f" else band
        if finite.size:
            low, high = min(low, float(finite.min())), max(high, float(finite.max()))
    out = np.zeros((image.height, image.width), dtype=np.uint8)
    if high > low:
        scale = 255.0 / (high - low)
        for top, band in _row_bands(image):
            values = np.nan_to_num(band.astype(np.float64), copy=False, nan=low, posinf=low, neginf=low)
            values -= low
            values *= scale
            out[top : top + len(values)] = np.rint(np.clip(values, 0.0, 255.0, out=values), out=values)
    return Image.fromarray(out, mode="L")


def _row_bands(image: Image.Image) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, pixels) of each band of ``_BAND_ROWS`` rows, copied one band at a time."""
    for top in range(0, image.height, _BAND_ROWS):
        yield top, np.asarray(image.crop((0, top, image.width, min(top + _BAND_ROWS, image.height))))


def has_color(image: Image.Image) -> bool:
    """True when a decoded image's pixels differ between its color channels."""
    if image.mode not in ("RGB", "RGBA"):
        return False
    red, green, blue = (np.asarray(image.getchannel(band)) for band in "RGB")
    return bool(np.any(red != green) or np.any(green != blue))


def value_range(pre: Preprocessing) -> tuple[float, float]:
    """(lowest, highest) value ``preprocess_image`` gives: 8-bit pixels 0..255, scaled and
    normalised. A preprocessed tensor a client sends should lie in it."""
    ends = sorted(((0.0 * pre.scale - pre.mean) / pre.std, (255.0 * pre.scale - pre.mean) / pre.std))
    return ends[0], ends[1]


def preprocess_image(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """Turn one image into the model's input for one example (no batch dimension).

    Takes a ``decode``d image (any other mode is normalised first). Converts to
    ``pre.color_mode``, resizes to ``pre.size`` (width, height), multiplies
    by ``pre.scale``, normalises with ``(x - mean) / std`` and arranges the result as
    CHW (layout NCHW), HWC (NHWC) or a flat HWC-ordered vector (NF); float32.
    """
    image = normalize_mode(image)
    if image.mode != pre.color_mode:
        image = image.convert(pre.color_mode)
    size = (int(pre.size[0]), int(pre.size[1]))
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32) * np.float32(pre.scale)
    pixels = (pixels - np.float32(pre.mean)) / np.float32(pre.std)
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    if pre.layout == "NCHW":
        return np.ascontiguousarray(pixels.transpose(2, 0, 1))
    if pre.layout == "NHWC":
        return np.ascontiguousarray(pixels)
    if pre.layout == "NF":
        return pixels.reshape(-1)
    raise ValueError(f"unknown layout {pre.layout!r}; expected one of {', '.join(LAYOUTS)}")


def list_images(root: Path) -> dict[str, list[tuple[Path, int]]]:
    """Image files per split as (path, class index), sorted; classes from ``train``.

    ``val`` is in the result only when ``<root>/val`` exists.
    """
    root = Path(root)
    classes = list_classes(root)
    splits: dict[str, list[tuple[Path, int]]] = {}
    for split in SPLITS:
        split_dir = root / split
        if split in OPTIONAL_SPLITS and not split_dir.exists():
            continue
        if not split_dir.is_dir():
            raise DataError(f"{split_dir} is missing; expected {_layout(root)}")
        unknown = sorted(
            entry.name
            for entry in split_dir.iterdir()
            if entry.is_dir() and not entry.name.startswith(".") and entry.name not in classes
        )
        if unknown:
            raise DataError(f"{split_dir} has classes not in the train split: {', '.join(unknown)}")
        per_class = [
            [
                path
                for path in sorted((split_dir / name).glob("*"))
                if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
            ]
            for name in classes
        ]
        empty = [name for name, paths in zip(classes, per_class, strict=True) if not paths]
        if split == "train" and empty:
            raise DataError(
                f"{split_dir / empty[0]} has no PNG or JPEG images: every class folder of the train "
                "split needs images; add some or remove the folder"
            )
        files = [(path, index) for index, paths in enumerate(per_class) for path in paths]
        if not files:
            raise DataError(f"{split_dir} has no PNG or JPEG images")
        splits[split] = files
    return splits


def list_classes(root: Path) -> list[str]:
    train = Path(root) / "train"
    if not train.is_dir():
        raise DataError(f"{train} is missing; expected {_layout(root)}")
    classes = sorted(
        entry.name for entry in train.iterdir() if entry.is_dir() and not entry.name.startswith(".")
    )
    if len(classes) < 2:
        raise DataError(f"{train} needs at least two class folders, found {len(classes)}")
    return classes


def _layout(root: Path) -> str:
    return f"{root}/train/<class>/*.png and {root}/test/<class>/*.png"


def read_image(path: Path) -> Image.Image:
    """A training image file, ``decode``d in memory; DataError names the file when it cannot be read."""
    try:
        with Image.open(path) as image:
            return decode(image).copy()
    except Image.DecompressionBombError:
        raise DataError(
            f"{path} has more than {Image.MAX_IMAGE_PIXELS} pixels (Pillow's decompression bomb "
            "limit); resize it, or remove it from the data set"
        ) from None
    except Exception as exc:  # any failure to read or decode the file is the data's fault
        raise DataError(f"cannot read image {path}: {exc}") from exc


if __name__ == "__main__":  # the command line lives with the data sets it writes
    import sys

    from .datasets import main

    sys.exit(main())
