"""Training settings: environment variables, overridden by command-line flags.

Every setting is validated before anything is read or written; a bad value stops the
run with one line naming the setting, the value and the rule (exit status 2), and so
does an unknown flag (see ``cli.ArgumentParser``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli import ArgumentParser

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting has a value that breaks its rule."""

    def __init__(self, name: str, value: object, rule: str) -> None:
        super().__init__(f"{name}={value!s} is invalid: {rule}")
        self.name = name
        self.value = value
        self.rule = rule


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    color_mode: str
    image_size: tuple[int, int] | None
    model_dir: Path
    checkpoint_dir: Path
    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    checkpoint_every: int
{%- if cookiecutter.accelerator == "cuda" %}
    device: str
{%- endif %}
    threads: int
    resume: bool
    log_format: str


@dataclass(frozen=True)
class _Setting:
    field: str
    env: str
    default: str
    help: str
    rule: str
    parse: Callable[[str], Any]


def _path(value: str) -> Path:
    if not value.strip():
        raise ValueError
    return Path(value).expanduser()


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = int(value)
        if not low <= number <= high:
            raise ValueError
        return number

    return parse


def _positive_float(high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        number = float(value)
        if not 0.0 < number <= high:  # also rejects nan
            raise ValueError
        return number

    return parse


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.lower() not in choices:
            raise ValueError
        return value.lower()

    return parse


def _color_mode(value: str) -> str:
    if value.lower() == "auto":
        return "auto"
    if value.upper() not in ("L", "RGB"):
        raise ValueError
    return value.upper()


def _image_size(value: str) -> tuple[int, int] | None:
    """``auto`` -> None, ``N`` -> (N, N), ``WxH`` -> (W, H); sides from 1 to 1024."""
    if value.lower() == "auto":
        return None
    width, separator, height = value.lower().partition("x")
    size = (int(width), int(height)) if separator else (int(width), int(width))
    if not all(1 <= side <= 1024 for side in size):
        raise ValueError
    return size


def _bool(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError


SETTINGS: tuple[_Setting, ...] = (
    _Setting(
        "data_dir",
        "DATA_DIR",
        "data",
        "image folder tree <dir>/train/<class>/*.png|jpg and <dir>/test/<class>/*.png|jpg; "
        "the digits data set is written there when it is missing or empty",
        "must be a directory path",
        _path,
    ),
    _Setting(
        "color_mode",
        "COLOR_MODE",
        "auto",
        "color mode of the model's input: auto (RGB when any training image has color, else L), "
        "L (grayscale) or RGB",
        "must be one of auto, L, RGB",
        _color_mode,
    ),
    _Setting(
        "image_size",
        "IMAGE_SIZE",
        "auto",
        "input size every image is resized to: auto (the training images' most common size, "
        "scaled down to at most 224 pixels a side), N (N x N) or WIDTHxHEIGHT",
        "must be auto, N or WIDTHxHEIGHT with sides from 1 to 1024",
        _image_size,
    ),
    _Setting(
        "model_dir",
        "MODEL_DIR",
        "models/current",
        "where the finished model directory is written (replaced atomically)",
        "must be a directory path",
        _path,
    ),
    _Setting(
        "checkpoint_dir",
        "CHECKPOINT_DIR",
        "checkpoints",
        "where checkpoints are written and resumed from",
        "must be a directory path",
        _path,
    ),
    _Setting(
        "epochs",
        "EPOCHS",
        "20",
        "passes over the training split",
        "must be an integer from 1 to 10000",
        _int_between(1, 10_000),
    ),
    _Setting(
        "batch_size",
        "BATCH_SIZE",
        "64",
        "examples per optimisation step (the global batch when distributed)",
        "must be an integer from 1 to 65536",
        _int_between(1, 65_536),
    ),
    _Setting(
        "learning_rate",
        "LEARNING_RATE",
        "0.001",
        "optimiser step size",
        "must be a number greater than 0 and at most 10",
        _positive_float(10.0),
    ),
    _Setting(
        "seed",
        "SEED",
        "0",
        "seed for initialisation, shuffling and the data split",
        "must be an integer from 0 to 4294967295",
        _int_between(0, 2**32 - 1),
    ),
    _Setting(
        "checkpoint_every",
        "CHECKPOINT_EVERY",
        "1",
        "write a checkpoint every N epochs (and always on SIGTERM)",
        "must be an integer from 1 to 10000",
        _int_between(1, 10_000),
    ),
{%- if cookiecutter.accelerator == "cuda" %}
    _Setting(
        "device",
        "DEVICE",
        "auto",
        "auto (GPU when available), cpu or cuda",
        "must be one of auto, cpu, cuda",
        _choice("auto", "cpu", "cuda"),
    ),
{%- endif %}
    _Setting(
        "threads",
        "THREADS",
        "0",
        "CPU threads; 0 follows the container's CPU limit",
        "must be an integer from 0 to 1024",
        _int_between(0, 1024),
    ),
    _Setting(
        "resume",
        "RESUME",
        "true",
        "continue from the latest compatible checkpoint",
        "must be true or false",
        _bool,
    ),
    _Setting(
        "log_format",
        "LOG_FORMAT",
        "auto",
        "auto (text on a terminal, JSON lines otherwise), text or json",
        "must be one of auto, text, json",
        _choice("auto", "text", "json"),
    ),
)


def _flag(setting: _Setting) -> str:
    return "--" + setting.field.replace("_", "-")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.train",
        description="Train the image classifier, export it to ONNX and write the model directory.",
        epilog="Flags override environment variables, which override the defaults. "
        "SIGTERM saves a checkpoint at the next batch boundary and exits with status 0; "
        "the next run resumes from it.",
    )
    for setting in SETTINGS:
        help_text = f"{setting.help} (env {setting.env}, default {setting.default})"
        if setting.parse is _bool:
            parser.add_argument(
                _flag(setting),
                dest=setting.field,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                _flag(setting), dest=setting.field, metavar=setting.env, default=None, help=help_text
            )
    return parser


def load_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """Resolve every setting from flags, then the environment, then the defaults.

    Raises ConfigError for the first invalid value; the parser itself exits with status 2
    and one line on stderr on an unknown flag, and with status 0 after ``--help``.
    """
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        flag_value = getattr(args, setting.field)
        if isinstance(flag_value, bool):
            values[setting.field] = flag_value
            continue
        if flag_value is not None:
            name, raw = _flag(setting), flag_value
        elif setting.env in environ:
            name, raw = setting.env, environ[setting.env]
        else:
            name, raw = setting.env, setting.default
        try:
            values[setting.field] = setting.parse(raw.strip())
        except ValueError:
            raise ConfigError(name, raw, setting.rule) from None
    config = TrainConfig(**values)
    _check_paths(config)
    return config


def _check_paths(config: TrainConfig) -> None:
    for name, path in (
        ("DATA_DIR", config.data_dir),
        ("MODEL_DIR", config.model_dir),
        ("CHECKPOINT_DIR", config.checkpoint_dir),
    ):
        if path.exists() and not path.is_dir():
            raise ConfigError(name, path, "exists and is not a directory")
    model_dir = config.model_dir.resolve()
    for name, path in (("DATA_DIR", config.data_dir), ("CHECKPOINT_DIR", config.checkpoint_dir)):
        if path.resolve() == model_dir:
            raise ConfigError("MODEL_DIR", config.model_dir, f"must differ from {name}")
