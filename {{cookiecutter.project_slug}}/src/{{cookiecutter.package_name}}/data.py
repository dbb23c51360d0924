"""Image-folder data: the digits data set as PNGs, loading, hashing and preprocessing.

Layout read by training (any PNG/JPEG images, classes are the sorted folder names)::

    <root>/train/<class>/*.png
    <root>/test/<class>/*.png

``python -m <package>.data materialize <root>`` writes scikit-learn's digits data set
(1,797 8x8 images of 10 classes, shipped inside scikit-learn, no download) in that
layout. ``preprocess_image`` is the one image -> tensor function, shared with the
server; this module needs only numpy and Pillow (scikit-learn only to materialise).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from .artifacts import LAYOUTS, Preprocessing
from .cli import ArgumentParser

SPLITS = ("train", "test")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class DataError(RuntimeError):
    """The data directory is missing, malformed or has unreadable images."""


@dataclass(frozen=True)
class Dataset:
    """Both splits preprocessed for one model layout, with what produced them."""

    classes: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    preprocessing: Preprocessing
    sha256: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, without the batch dimension."""
        return tuple(self.x_train.shape[1:])


def preprocess_image(image: Image.Image, pre: Preprocessing) -> np.ndarray:
    """Turn one image into the model's input for one example (no batch dimension).

    Converts to ``pre.color_mode``, resizes to ``pre.size`` (width, height), multiplies
    by ``pre.scale``, normalises with ``(x - mean) / std`` and arranges the result as
    CHW (layout NCHW), HWC (NHWC) or a flat HWC-ordered vector (NF); float32.
    """
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
    """Image files per split as (path, class index), sorted; classes from ``train``."""
    root = Path(root)
    classes = list_classes(root)
    splits: dict[str, list[tuple[Path, int]]] = {}
    for split in SPLITS:
        split_dir = root / split
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


def dataset_sha256(root: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every image of both splits."""
    root = Path(root)
    digest = hashlib.sha256()
    paths = sorted(path for files in list_images(root).values() for path, _ in files)
    for path in paths:
        content = path.read_bytes()
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def load_dataset(root: Path, layout: str) -> Dataset:
    """Read and preprocess both splits.

    The input size is the most common image size in the train split; mean and std are
    those of the scaled train pixels, so the manifest can reproduce the preprocessing.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    root = Path(root)
    splits = list_images(root)
    images = {split: [(_open(path), label) for path, label in files] for split, files in splits.items()}
    sizes = Counter(image.size for image, _ in images["train"])
    size = max(sizes, key=lambda item: (sizes[item], item))
    pre = Preprocessing(color_mode="L", size=size, scale=1.0 / 255.0, mean=0.0, std=1.0, layout="NF")
    scaled = np.stack([preprocess_image(image, pre) for image, _ in images["train"]])
    mean, std = float(scaled.mean()), float(scaled.std()) or 1.0
    pre = replace(pre, mean=round(mean, 6), std=round(std, 6), layout=layout)

    def arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.stack([preprocess_image(image, pre) for image, _ in images[split]])
        y = np.array([label for _, label in images[split]], dtype=np.int64)
        return x, y

    x_train, y_train = arrays("train")
    x_test, y_test = arrays("test")
    return Dataset(list_classes(root), x_train, y_train, x_test, y_test, pre, dataset_sha256(root))


def needs_materializing(root: Path) -> bool:
    """True when ``root`` is missing or has nothing but hidden entries in it."""
    root = Path(root)
    if not root.exists():
        return True
    return root.is_dir() and not any(not entry.name.startswith(".") for entry in root.iterdir())


def materialize_digits(root: Path, seed: int = 0, test_fraction: float = 0.2) -> Path:
    """Write the digits data set as PNGs under ``root`` (stratified, deterministic split).

    Pixel values 0..16 become 0..255 grayscale. The images are written into a staging
    directory that is renamed into place, so ``root`` never holds half a data set.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    root = Path(root)
    if not needs_materializing(root):
        raise DataError(f"{root} already has content; refusing to overwrite it")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    indices = np.arange(len(pixels))
    train_idx, test_idx = train_test_split(
        indices, test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    # Stage next to root when it does not exist yet (one rename publishes everything);
    # stage inside it when it is an existing, possibly mounted, empty directory.
    in_place = root.exists()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.staging-", dir=root if in_place else root.parent))
    try:
        for split, split_idx in (("train", train_idx), ("test", test_idx)):
            for index in sorted(split_idx):
                class_dir = staging / split / str(digits.target[index])
                class_dir.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels[index]).save(class_dir / f"{index:04d}.png")
        if in_place:
            # "train" goes last: a root with a train split is complete.
            for split in ("test", "train"):
                os.rename(staging / split, root / split)
            staging.rmdir()
        else:
            os.rename(staging, root)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if (root / "train").is_dir():  # another process published it first
            return root
        raise  # ensure_dataset waits for a writer that is still publishing
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root


def ensure_dataset(root: Path, seed: int = 0, wait: float = 300.0) -> bool:
    """Materialise the digits data set when ``root`` is missing or empty.

    Every process that trains on ``root`` calls this, also processes that share the data
    volume but nothing else (a Job's retries, parallel training pods): they take turns through a
    lock file inside ``root`` (``.materialize.lock``), so the data set is written once.
    Where the file system has no working locks, the atomic renames of
    ``materialize_digits`` decide and the others wait up to ``wait`` seconds for the
    winner's train split. Returns True when this call wrote the data set.

    Raises DataError (another writer left no complete data set in time) or OSError.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / ".materialize.lock"):
        if not needs_materializing(root):
            return False
        try:
            materialize_digits(root, seed=seed)
        except (DataError, OSError):
            if not _published(root, wait):
                raise
            return False
        return True


def _published(root: Path, wait: float) -> bool:
    """True once ``root`` has a train split (published last), polling up to ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while not (root / "train").is_dir():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; where there is none to take, run the block unlocked."""
    try:
        handle = open(path, "a+b")  # noqa: SIM115 - held for the duration of the block
    except OSError:  # e.g. a read-only data directory: materialize_digits reports it
        yield
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            locked = True
        except OSError:  # e.g. ENOLCK on a network file system
            locked = False
        try:
            yield
        finally:
            if locked:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _open(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.copy()
    except Image.DecompressionBombError:
        raise DataError(
            f"{path} has more than {Image.MAX_IMAGE_PIXELS} pixels (Pillow's decompression bomb "
            "limit); resize it, or remove it from the data set"
        ) from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from exc


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.data",
        description="Data set utilities.",
        epilog="Exit status: 0 done, 1 the data could not be written, 2 a bad argument.",
    )
    # Not required here, so an unknown flag is reported before a missing command (main checks).
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    materialize = commands.add_parser(
        "materialize",
        help="write the digits data set as PNGs in <root>/train/<class>/ and <root>/test/<class>/",
        description="Write scikit-learn's digits data set as PNGs in <root>/train/<class>/ "
        "and <root>/test/<class>/ (stratified, deterministic split).",
    )
    materialize.add_argument("root", type=Path, help="directory to create (must be missing or empty)")
    materialize.add_argument(
        "--seed", type=int, default=0, help="seed of the train/test split, 0 to 4294967295 (default 0)"
    )
    materialize.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of images in the test split, between 0 and 1 (default 0.2)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("missing COMMAND: materialize")
    if not 0.0 < args.test_fraction < 1.0:  # also rejects nan
        parser.error(f"--test-fraction={args.test_fraction} is invalid: must be between 0 and 1")
    if not 0 <= args.seed <= 2**32 - 1:
        parser.error(f"--seed={args.seed} is invalid: must be an integer from 0 to 4294967295")
    try:
        materialize_digits(args.root, seed=args.seed, test_fraction=args.test_fraction)
    except ImportError as exc:
        print(f"error: materialize needs scikit-learn (the train extra): {exc}", file=sys.stderr)
        return 1
    except (DataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = {split: sum(1 for _ in (args.root / split).rglob("*.png")) for split in SPLITS}
    print(f"wrote {counts['train']} train and {counts['test']} test images to {args.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
