"""Training settings: environment variables, overridden by command-line flags.

Each setting is one field of ``TrainConfig`` (default, rule, help; see ``settings``).
Every setting is validated before anything is read or written; a bad value stops the
run with one line naming the setting, the value and the rule (exit status 2), and so
does an unknown flag (see ``cli.ArgumentParser``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .augment import SETTINGS as AUGMENT_SETTINGS
from .cli import ArgumentParser
from .settings import (
    BOOL,
    PATH,
    Rule,
    SettingsError,
    add_flags,
    choice,
    int_in,
    number_in,
    parse_flags,
    resolve,
    setting,
)


def _image_size(raw: str) -> tuple[int, int] | None:
    """``auto`` -> None, ``N`` -> (N, N), ``WxH`` -> (W, H); sides from 1 to 1024."""
    if raw.lower() == "auto":
        return None
    width, separator, height = raw.lower().partition("x")
    size = (int(width), int(height)) if separator else (int(width), int(width))
    if not all(1 <= side <= 1024 for side in size):
        raise ValueError
    return size


_IMAGE_SIZE = Rule("must be auto, N or WIDTHxHEIGHT with sides from 1 to 1024", _image_size)
{%- if cookiecutter.framework == "tensorflow" %}
MODELS = ("small_cnn", "mobilenet_v3_small", "resnet50")
RANDOM_WEIGHTS = "none"


def _weights_path(raw: str) -> Path | str | None:
    """``imagenet`` -> None (keras.applications' ImageNet weights), ``none`` -> random
    initialisation, else the path of a weights file that exists."""
    if raw.lower() == "imagenet":
        return None
    if raw.lower() == RANDOM_WEIGHTS:
        return RANDOM_WEIGHTS
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ValueError
    return path


_WEIGHTS_PATH = Rule(
    "must be imagenet, none or the path of an existing weights file (.weights.h5)", _weights_path
)
{%- endif %}


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of a training run; each field is read from the variable of the same name."""

    data_dir: Path = setting(
        Path("data"),
        PATH,
        "image folder tree <dir>/train/<class>/*.png|jpg, <dir>/test/<class>/*.png|jpg and optionally "
        "<dir>/val/<class>/*.png|jpg; the digits data set is written there when it is missing or empty",
    )
    color_mode: str = setting(
        "auto",
        choice("auto", "L", "RGB"),
        "color mode of the model's input: auto (RGB when any training image has color, else L), "
        "L (grayscale) or RGB",
    )
    image_size: tuple[int, int] | None = setting(
        None,
        _IMAGE_SIZE,
        "input size every image is resized to: auto (the training images' most common size, "
        "scaled down to at most 224 pixels a side), N (N x N) or WIDTHxHEIGHT",
        shown="auto",
    )
    val_fraction: float = setting(
        0.1,
        number_in(0, 0.5, above_low=True),
        "share of each class of the train split held out for validation when <DATA_DIR>/val is missing",
    )
    augment: str = setting(
        "off",
        choice(*AUGMENT_SETTINGS),
        "augmentation of the train split: off, standard (a random crop of 75-100% of the area "
        "resized back, rotation up to 10 degrees, brightness, contrast and saturation within 20%) "
        "or standard+flip (also a random horizontal flip, which breaks digits and text)",
    )
{%- if cookiecutter.framework == "tensorflow" %}
    model: str = setting(
        "small_cnn",
        choice(*MODELS),
        "small_cnn (convolutions sized to the input, trained from scratch) or a keras.applications "
        "backbone with a new classification head, all of it fine-tuned: mobilenet_v3_small or resnet50",
    )
    weights_path: Path | str | None = setting(
        None,
        _WEIGHTS_PATH,
        "a backbone's starting weights: imagenet (through keras.applications, downloaded once into "
        "~/.keras), the path of a weights file of the backbone without its top (for machines without "
        "internet access) or none (random initialisation)",
        shown="imagenet",
    )
{%- endif %}
    model_dir: Path = setting(
        Path("models/current"), PATH, "where the finished model directory is written (replaced atomically)"
    )
    checkpoint_dir: Path = setting(
        Path("checkpoints"), PATH, "where checkpoints are written and resumed from"
    )
    epochs: int = setting(20, int_in(1, 10_000), "passes over the training split")
    batch_size: int = setting(
        64, int_in(1, 65_536), "examples per optimisation step (the global batch when distributed)"
    )
    learning_rate: float = setting(0.001, number_in(0, 10, above_low=True), "optimiser step size")
    seed: int = setting(0, int_in(0, 2**32 - 1), "seed for initialisation, shuffling and the data split")
    patience: int = setting(
        5,
        int_in(0, 10_000),
        "stop after N epochs without a lower validation loss (0: run every epoch); the model "
        "written is the epoch with the lowest validation loss either way",
    )
    checkpoint_every: int = setting(
        1, int_in(1, 10_000), "write a checkpoint every N epochs (and always on SIGTERM)"
    )
{%- if cookiecutter.accelerator == "cuda" %}
    device: str = setting("auto", choice("auto", "cpu", "cuda"), "auto (GPU when available), cpu or cuda")
{%- endif %}
    threads: int = setting(0, int_in(0, 1024), "CPU threads; 0 follows the container's CPU limit")
    resume: bool = setting(True, BOOL, "continue from the latest compatible checkpoint")
    log_format: str = setting(
        "auto",
        choice("auto", "text", "json"),
        "auto (text on a terminal, JSON lines otherwise), text or json",
    )


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.train",
        description="Train the image classifier, export it to ONNX and write the model directory.",
        epilog="Flags override environment variables, which override the defaults; an empty "
        "value means the default. SIGTERM saves a checkpoint at the next batch boundary and "
        "exits with status 0; the next run resumes from it.",
    )
    add_flags(parser, TrainConfig)
    return parser


def load_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """Resolve every setting from flags, then the environment, then the defaults.

    Raises SettingsError for the first invalid value; the parser itself exits with status 2
    and one line on stderr on an unknown flag, and with status 0 after ``--help``.
    """
    config, names = resolve(TrainConfig, parse_flags(build_parser(), argv), environ)
    for field in ("data_dir", "model_dir", "checkpoint_dir"):
        path = getattr(config, field)
        if path.exists() and not path.is_dir():
            raise SettingsError(names[field], str(path), "exists and is not a directory")
    model_dir = config.model_dir.resolve()
    for field in ("data_dir", "checkpoint_dir"):
        if getattr(config, field).resolve() == model_dir:
            raise SettingsError(names["model_dir"], str(config.model_dir), f"must differ from {names[field]}")
    return config
