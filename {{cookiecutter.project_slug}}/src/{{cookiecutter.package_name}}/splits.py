"""The splits of an image-folder tree, read from disk a batch at a time.

``load_dataset`` checks every image once before training (one line naming the first file
that cannot be read), finds the color mode and input size, and measures the pixel mean and
standard deviation on a seeded sample of the train split; no split is ever held in memory
whole, so memory does not grow with the number of images. A ``Split`` gives the model's
input for any of its examples (``batch``, ``chunks``) through ``data.preprocess_image``,
the function serving uses.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .artifacts import COLOR_MODES, LAYOUTS, Preprocessing
from .augment import Augmentation
from .data import AUTO, MAX_AUTO_SIDE, has_color, list_classes, list_images, preprocess_image, read_image

STATS_SAMPLE = 4096  # train images the mean and standard deviation are measured on
CHUNK = 256  # examples per evaluation chunk
_TRANSPOSED = {5, 6, 7, 8}  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class Split:
    """One split's image files and class indices; examples are decoded when asked for."""

    paths: tuple[Path, ...]
    labels: np.ndarray  # [N] int64 class indices
    preprocessing: Preprocessing
    augmentation: Augmentation | None = None
    draw: tuple[int, ...] = ()  # seeds the augmentation: (seed, epoch)

    def __len__(self) -> int:
        return len(self.paths)

    def augmented(self, augmentation: Augmentation | None, seed: int, epoch: int) -> Split:
        """This split with ``augmentation`` drawn for ``epoch`` (None: as it is)."""
        return replace(self, augmentation=augmentation, draw=(seed, epoch))

    def example(self, index: int) -> np.ndarray:
        """The model input of example ``index`` (no batch dimension), float32; augmented by a
        draw that depends on (seed, epoch, index) only."""
        image = read_image(self.paths[index])
        if self.augmentation is not None:
            mode = self.preprocessing.color_mode
            image = self.augmentation(image if image.mode == mode else image.convert(mode), self._rng(index))
        return preprocess_image(image, self.preprocessing)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([*self.draw, 4, index])

    def batch(self, indices: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(x [B, *example shape] float32, y [B] int64) for the examples ``indices``."""
        indices = np.asarray(indices, dtype=np.int64)
        return np.stack([self.example(int(index)) for index in indices]), self.labels[indices]

    def chunks(self, size: int = CHUNK) -> Iterator[np.ndarray]:
        """The whole split in order as x batches of at most ``size`` examples."""
        for start in range(0, len(self), size):
            yield self.batch(range(start, min(start + size, len(self))))[0]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole split in memory as (x, y): for small splits and tests only."""
        return self.batch(range(len(self)))


@dataclass(frozen=True)
class Dataset:
    """The three splits for one model layout, with the preprocessing that feeds the model."""

    classes: list[str]
    train: Split
    val: Split
    test: Split
    preprocessing: Preprocessing
    sha256: str

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example, without the batch dimension."""
        width, height = self.preprocessing.size
        channels = len(self.preprocessing.color_mode)  # "L" -> 1, "RGB" -> 3
        return {
            "NCHW": (channels, height, width),
            "NHWC": (height, width, channels),
            "NF": (height * width * channels,),
        }[self.preprocessing.layout]


def load_dataset(
    root: Path,
    layout: str,
    color_mode: str = AUTO,
    image_size: tuple[int, int] | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    workers: int = 1,
) -> Dataset:
    """Check the tree and every image, and derive the preprocessing.

    ``color_mode``: "L", "RGB" or "auto" (RGB when any train image has color). ``image_size``:
    (width, height), or None for the most common train size capped at ``MAX_AUTO_SIDE``.
    Without ``<root>/val``, ``val_fraction`` of each class of train (at least one image of a
    class with two or more) is held out for validation, chosen by ``seed``. Mean and std
    are those of up to ``STATS_SAMPLE`` train images chosen by ``seed``. ``workers``
    threads decode in parallel. Raises data.DataError for a malformed tree or an unreadable image.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if color_mode != AUTO and color_mode not in COLOR_MODES:
        raise ValueError(
            f"unknown color mode {color_mode!r}; expected auto or one of {', '.join(COLOR_MODES)}"
        )
    root = Path(root)
    splits = list_images(root)
    if "val" not in splits:
        splits["train"], splits["val"] = hold_out(splits["train"], val_fraction, seed)
    train_paths = [path for path, _ in splits["train"]]
    with ThreadPoolExecutor(max(1, workers)) as pool:
        # Every image is decoded once, one per thread at a time: a bad file stops the run here.
        for split in ("val", "test"):
            for _ in pool.map(_check, (path for path, _ in splits[split])):
                pass
        facts = list(pool.map(_size_and_color, train_paths))
        if color_mode == AUTO:
            color_mode = "RGB" if any(colored for _, colored in facts) else "L"
        size = choose_size(Counter(size for size, _ in facts), image_size)
        pre = Preprocessing(
            color_mode=color_mode, size=size, scale=1.0 / 255.0, mean=0.0, std=1.0, layout="NF"
        )
        sample = np.random.default_rng([seed, 3]).permutation(len(train_paths))[:STATS_SAMPLE]
        moments = np.sum(
            list(pool.map(lambda index: _moments(train_paths[index], pre), sorted(sample))), axis=0
        )
    count, total, squares = moments
    mean = total / count
    std = float(np.sqrt(max(squares / count - mean**2, 0.0))) or 1.0
    pre = replace(pre, mean=round(float(mean), 6), std=round(std, 6), layout=layout)

    def split_of(name: str) -> Split:
        files = splits[name]
        labels = np.array([label for _, label in files], dtype=np.int64)
        return Split(tuple(path for path, _ in files), labels, pre)

    return Dataset(
        list_classes(root), split_of("train"), split_of("val"), split_of("test"), pre, dataset_sha256(root)
    )


def _check(path: Path) -> None:
    read_image(path)


def _size_and_color(path: Path) -> tuple[tuple[int, int], bool]:
    """An image's upright (width, height) and whether it has color; DataError names the file."""
    image = read_image(path)
    return image.size, has_color(image)


def _moments(path: Path, pre: Preprocessing) -> np.ndarray:
    pixels = preprocess_image(read_image(path), pre).astype(np.float64)
    return np.array([pixels.size, pixels.sum(), np.square(pixels).sum()])


def choose_size(sizes: Counter[tuple[int, int]], image_size: tuple[int, int] | None) -> tuple[int, int]:
    """The input (width, height): ``image_size`` when given, else the most common size,
    scaled down (aspect kept) so its longer side is at most ``MAX_AUTO_SIDE`` pixels."""
    if image_size is not None:
        return image_size
    width, height = max(sizes, key=lambda item: (sizes[item], item))
    factor = min(1.0, MAX_AUTO_SIDE / max(width, height))
    return max(1, round(width * factor)), max(1, round(height * factor))


def hold_out(
    files: list[tuple[Path, int]], fraction: float, seed: int
) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """Split (path, class index) pairs into (kept, held out): per class, ``round(n * fraction)``
    examples, at least one of a class with two or more and never all; chosen by ``seed``,
    both lists in their original order."""
    rng = np.random.default_rng([seed, 2])
    labels = np.array([label for _, label in files])
    held: set[int] = set()
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = min(max(round(len(members) * fraction), 1), len(members) - 1)
        held.update(rng.choice(members, size=count, replace=False).tolist() if count > 0 else [])
    kept = [item for index, item in enumerate(files) if index not in held]
    return kept, [item for index, item in enumerate(files) if index in held]


def dataset_sha256(root: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every image of every split."""
    root = Path(root)
    digest = hashlib.sha256()
    paths = sorted(path for files in list_images(root).values() for path, _ in files)
    for path in paths:
        content = path.read_bytes()
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(len(content).to_bytes(8, "big"))
        digest.update(content)
    return digest.hexdigest()


def predict_split(predict: Callable[[np.ndarray], np.ndarray], split: Split) -> np.ndarray:
    """``predict`` (x [B, ...] -> probabilities [B, classes]) over the whole split, a chunk at
    a time; [N, classes] float32."""
    return np.concatenate([np.asarray(predict(x), dtype=np.float32) for x in split.chunks()])


def sequential_batches(
    split: Split, order: np.ndarray, batch_size: int
) -> Iterable[tuple[np.ndarray, np.ndarray]]:
    """The batches ``order[i : i + batch_size]`` of ``split``, decoded in this thread."""
    for start in range(0, len(order), batch_size):
        yield split.batch(order[start : start + batch_size])
