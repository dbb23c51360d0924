"""Built-in data sets written as image-folder trees, and the ``python -m <package>.data`` command.

* ``digits``: scikit-learn's handwritten digits, 1,797 8x8 grayscale images of 10 classes
  (shipped inside scikit-learn, no download). The default: training writes it into an empty
  DATA_DIR.
* ``shapes``: 1,800 32x32 RGB images drawn here, 9 classes ``<color>_<shape>`` (red, green,
  blue; circle, square, triangle) on noisy gray backgrounds. The three colors have the same
  brightness, so only color tells ``red_circle`` from ``blue_circle``: a model that drops
  color gets about a third of them right. The data set that proves the color path.

Both are split per class (stratified) and deterministically for a seed, written into a
staging directory and renamed into place, so a root never holds half a data set.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .cli import ArgumentParser
from .data import SPLITS, DataError

# Three colors of the same luma (about 108 in Pillow's RGB -> L conversion): in grayscale,
# red_circle, green_circle and blue_circle are the same image.
SHAPE_COLORS = {"red": (220, 60, 60), "green": (40, 150, 60), "blue": (90, 90, 255)}
SHAPES = ("circle", "square", "triangle")
SHAPES_PER_CLASS = 200
SHAPE_SIZE = 32  # pixels, width and height
_OVERSAMPLING = 4  # shapes are drawn at 4x and downsampled, for smooth edges

# (label, image) pairs of one data set, in a deterministic order, for a seed.
Examples = list[tuple[str, Image.Image]]


def needs_materializing(root: Path) -> bool:
    """True when ``root`` is missing or has nothing but hidden entries in it."""
    root = Path(root)
    if not root.exists():
        return True
    return root.is_dir() and not any(not entry.name.startswith(".") for entry in root.iterdir())


def digits_examples(seed: int) -> Examples:
    """scikit-learn's digits as 8x8 grayscale images; pixel values 0..16 become 0..255."""
    from sklearn.datasets import load_digits

    del seed  # the digits are fixed; only their split depends on the seed
    digits = load_digits()
    pixels = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    return [(str(label), Image.fromarray(image)) for image, label in zip(pixels, digits.target, strict=True)]


def shapes_examples(seed: int) -> Examples:
    """``SHAPES_PER_CLASS`` RGB images per ``<color>_<shape>`` class, drawn from ``seed``.

    Shapes of radius 8-11 px, centred within 2 px, triangles and squares turned by up to
    0.15 rad; the fill's brightness varies by up to 20 (the same in every channel, so the
    colors' lumas stay equal); the background is gray (90-170) with Gaussian noise (sigma 8).
    """
    rng = np.random.default_rng([seed, 1])
    return [
        (f"{color}_{shape}", _draw_shape(shape, fill, rng))
        for color, fill in SHAPE_COLORS.items()
        for shape in SHAPES
        for _ in range(SHAPES_PER_CLASS)
    ]


def _draw_shape(shape: str, fill: tuple[int, int, int], rng: np.random.Generator) -> Image.Image:
    big = SHAPE_SIZE * _OVERSAMPLING
    gray = int(rng.integers(90, 170))
    noise = rng.normal(gray, 8, (SHAPE_SIZE, SHAPE_SIZE, 1)).repeat(3, axis=2)
    background = Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8), "RGB")
    layer = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    radius = rng.uniform(8, 11) * _OVERSAMPLING
    cx, cy = (big / 2 + rng.uniform(-2, 2) * _OVERSAMPLING for _ in range(2))
    shift = int(rng.integers(-20, 21))
    color = (*(int(np.clip(c + shift, 0, 255)) for c in fill), 255)
    if shape == "circle":
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=color)
    else:
        corners = 4 if shape == "square" else 3
        start = (math.pi / 4 if corners == 4 else -math.pi / 2) + rng.uniform(-0.15, 0.15)
        angles = [start + 2 * math.pi * k / corners for k in range(corners)]
        draw.polygon([(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles], fill=color)
    shape_layer = layer.resize((SHAPE_SIZE, SHAPE_SIZE), Image.Resampling.LANCZOS)
    background.paste(shape_layer, (0, 0), shape_layer)
    return background


DATASETS: dict[str, Callable[[int], Examples]] = {"digits": digits_examples, "shapes": shapes_examples}


def materialize(root: Path, dataset: str = "digits", seed: int = 0, test_fraction: float = 0.2) -> Path:
    """Write ``dataset`` as PNGs in ``root/<split>/<class>/`` (stratified, deterministic split).

    The images are written into a staging directory that is renamed into place, so
    ``root`` never holds half a data set. Raises DataError when ``root`` has content,
    ValueError for an unknown data set or a ``test_fraction`` outside (0, 1), OSError.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r}; expected one of {', '.join(DATASETS)}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be between 0 and 1")
    root = Path(root)
    if not needs_materializing(root):
        raise DataError(f"{root} already has content; refusing to overwrite it")
    examples = DATASETS[dataset](seed)
    splits = _stratified_split([label for label, _ in examples], seed, test_fraction)
    # Stage next to root when it does not exist yet (one rename publishes everything);
    # stage inside it when it is an existing, possibly mounted, empty directory.
    in_place = root.exists()
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.staging-", dir=root if in_place else root.parent))
    try:
        for index, ((label, image), split) in enumerate(zip(examples, splits, strict=True)):
            class_dir = staging / split / label
            class_dir.mkdir(parents=True, exist_ok=True)
            image.save(class_dir / f"{index:04d}.png")
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


def _stratified_split(labels: Sequence[str], seed: int, test_fraction: float) -> list[str]:
    """The split ("train" or "test") of each example: ``test_fraction`` of every class, by seed."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    _, test = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=labels)
    in_test = set(test.tolist())
    return ["test" if index in in_test else "train" for index in indices]


def ensure_dataset(root: Path, seed: int = 0, wait: float = 300.0) -> bool:
    """Materialise the digits data set when ``root`` is missing or empty.

    Every process that trains on ``root`` calls this, also processes that share the data
    volume but nothing else (a Job's retries, parallel training pods): they take turns through a
    lock file inside ``root`` (``.materialize.lock``), so the data set is written once.
    Where the file system has no working locks, the atomic renames of ``materialize``
    decide and the others wait up to ``wait`` seconds for the winner's train split.
    Returns True when this call wrote the data set.

    Raises DataError (another writer left no complete data set in time) or OSError.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / ".materialize.lock"):
        if not needs_materializing(root):
            return False
        try:
            materialize(root, "digits", seed=seed)
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
    except OSError:  # e.g. a read-only data directory: materialize reports it
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


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.data",
        description="Data set utilities.",
        epilog="Exit status: 0 done, 1 the data could not be written, 2 a bad argument.",
    )
    # Not required here, so an unknown flag is reported before a missing command (main checks).
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    materialize_parser = commands.add_parser(
        "materialize",
        help="write a built-in data set as PNGs in <root>/train/<class>/ and <root>/test/<class>/",
        description="Write a built-in data set as PNGs in <root>/train/<class>/ and "
        "<root>/test/<class>/ (stratified, deterministic split): digits (scikit-learn's 8x8 "
        "grayscale handwritten digits) or shapes (32x32 RGB colored shapes, 9 classes).",
    )
    materialize_parser.add_argument("root", type=Path, help="directory to create (must be missing or empty)")
    materialize_parser.add_argument(
        "--dataset",
        choices=sorted(DATASETS),
        default="digits",
        help="which data set to write (default digits)",
    )
    materialize_parser.add_argument(
        "--seed", type=int, default=0, help="seed of the split and the drawing, 0 to 4294967295 (default 0)"
    )
    materialize_parser.add_argument(
        "--test-fraction",
        type=float,
        default=0.2,
        help="share of images in the test split, between 0 and 1 (default 0.2)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m <package>.data materialize [--dataset digits|shapes] <root>``; the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("missing COMMAND: materialize")
    if not 0.0 < args.test_fraction < 1.0:  # also rejects nan
        parser.error(f"--test-fraction={args.test_fraction} is invalid: must be between 0 and 1")
    if not 0 <= args.seed <= 2**32 - 1:
        parser.error(f"--seed={args.seed} is invalid: must be an integer from 0 to 4294967295")
    try:
        materialize(args.root, args.dataset, seed=args.seed, test_fraction=args.test_fraction)
    except ImportError as exc:
        print(f"error: materialize needs scikit-learn (the train group): {exc}", file=sys.stderr)
        return 1
    except (DataError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    counts = {split: sum(1 for _ in (args.root / split).rglob("*.png")) for split in SPLITS}
    print(f"wrote {counts['train']} train and {counts['test']} test images ({args.dataset}) to {args.root}")
    return 0
