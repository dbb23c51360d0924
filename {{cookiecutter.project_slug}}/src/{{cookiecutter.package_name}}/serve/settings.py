"""Server settings: environment variables, overridden by command-line flags, validated once.

Each setting is declared once, as a field of ``Settings``: its default, its rule (how a
raw string becomes the value) and its help text. The environment variable is the field
name in upper case and the flag is ``--field-name``; ``Settings.from_env``,
``Settings.resolve`` and ``build_parser`` (``--help``) are all derived from the fields.

A bad value stops the server with one line naming the variable (or flag), its value and
the rule it breaks (exit code 2), instead of failing later on the first request.

Standard library only: parsing the settings needs neither the web framework nor ONNX
Runtime.
"""

from __future__ import annotations

import argparse
import os
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..cli import ArgumentParser

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

# Environment variables the server reads besides the settings (documented in --help).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A containerized server listens on all interfaces; Service and compose ports decide exposure.
_ALL_INTERFACES = "0.0.0.0"  # nosec B104


class SettingsError(ValueError):
    """A setting has a value that breaks its rule."""

    def __init__(self, name: str, value: str, rule: str) -> None:
        super().__init__(f"invalid setting {name}={value!r}: {rule}")
        self.name = name
        self.value = value
        self.rule = rule


@dataclass(frozen=True)
class _Rule:
    """How a raw string becomes a value: ``parse`` raises ValueError when ``text`` is broken."""

    text: str
    parse: Callable[[str], Any]
    secret: bool = False  # never echo the value, never take it as a flag (visible in `ps`)


@dataclass(frozen=True)
class Setting:
    """One setting as the environment, the command line and ``--help`` see it."""

    field: str
    env: str
    flag: str | None  # None: environment only
    default: Any
    rule: _Rule
    help: str

    def parse(self, name: str, raw: str) -> Any:
        """The value of ``raw`` (stripped); an empty value means the default, except for text."""
        raw = raw.strip()
        if raw == "" and not isinstance(self.default, str | Path):
            return self.default
        try:
            return self.rule.parse(raw)
        except ValueError:
            raise SettingsError(name, "***" if self.rule.secret else raw, self.rule.text) from None


def _setting(default: Any, rule: _Rule, help_text: str) -> Any:
    """A ``Settings`` field: its default, rule and help text, declared once."""
    return field(default=default, metadata={"rule": rule, "help": help_text})


def _name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", raw):
        raise ValueError
    return raw


def _nonempty(raw: str) -> str:
    if not raw:
        raise ValueError
    return raw


def _int_in(low: int, high: int) -> _Rule:
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError
        return value

    return _Rule(f"must be an integer from {low} to {high}", parse)


def _float_in(low: float, high: float) -> _Rule:
    def parse(raw: str) -> float:
        value = float(raw)
        if not low <= value <= high:  # also rejects nan
            raise ValueError
        return value

    return _Rule(f"must be a number from {low} to {high}", parse)


def _choice(options: tuple[str, ...]) -> _Rule:
    def parse(raw: str) -> str:
        if raw.lower() not in options:
            raise ValueError
        return raw.lower()

    return _Rule(f"must be one of {', '.join(options)}", parse)


def _bool(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError


def _token(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) < 16:
        raise ValueError
    return raw


_TEXT = _Rule("must not be empty", _nonempty)
_NAME = _Rule("must be 1 to 64 letters, digits, '.', '_' or '-' (a URL path segment)", _name)
_PATH = _Rule("must not be empty", lambda raw: Path(_nonempty(raw)))
_BOOL = _Rule("must be a boolean: 1/0, true/false, yes/no or on/off", _bool)
_TOKEN = _Rule("must be at least 16 characters (or unset to disable admin)", _token, secret=True)


@dataclass(frozen=True)
class Settings:
    """Every knob of the server; each field is read from the variable of the same name."""

    host: str = _setting(_ALL_INTERFACES, _TEXT, "address to listen on")
    port: int = _setting(8000, _int_in(1, 65535), "TCP port to listen on")
    model_dir: Path = _setting(
        Path("models/current"),
        _PATH,
        "model directory to serve (model.onnx, labels.json, manifest.json); "
        "the server starts without it and is ready once it appears",
    )
    max_batch: int = _setting(32, _int_in(1, 1024), "most images in one prediction request")
    max_body_bytes: int = _setting(
        10 * 1024 * 1024, _int_in(1024, 1 << 31), "largest request body in bytes; a larger one gets 413"
    )
    max_concurrency: int = _setting(
        4,
        _int_in(1, 1024),
        "prediction requests admitted at once, from their body's first byte to the inference's "
        "end; further requests get 503 and Retry-After before their body is read",
    )
    body_timeout: float = _setting(
        10.0,
        _float_in(0.1, 3600),
        "seconds a client gets to send a whole request body; a slower one gets 408",
    )
    request_timeout: float = _setting(
        10.0, _float_in(0.001, 3600), "seconds an inference may take before the request gets 504"
    )
    model_name: str = _setting(
        "{{ cookiecutter.project_slug }}", _NAME, "the model's name in the /v2 (Open Inference Protocol) paths"
    )
    top_k: int = _setting(3, _int_in(1, 1000), "classes returned per image unless the request asks")
    workers: int = _setting(
        1,
        _int_in(1, 64),
        f"server processes; more than 1 needs {MULTIPROC_ENV}; prefer more replicas",
    )
    log_level: str = _setting("info", _choice(LOG_LEVELS), "least severe level logged")
    admin_token: str | None = _setting(
        None, _TOKEN, "bearer token of POST /admin/reload; the route is off while unset"
    )
    enable_noop: bool = _setting(False, _BOOL, "serve GET /v1/noop, an empty route for benchmarks")
    model_poll_seconds: float = _setting(
        0.0, _float_in(0, 86400), "look for a new model every N seconds and swap it in; 0 disables"
    )
    model_retry_seconds: float = _setting(
        5.0, _float_in(0.05, 3600), "seconds between attempts to load a missing or broken model"
    )
    ort_threads: int = _setting(
        0, _int_in(0, 256), "ONNX Runtime intra-op threads; 0 follows the container's CPU limit"
    )
    max_image_pixels: int = _setting(
        4096 * 4096,
        _int_in(64, 1 << 30),
        "largest image in pixels, width times height; a larger one gets 413",
    )
    max_request_pixels: int = _setting(
        4 * 4096 * 4096,
        _int_in(64, 1 << 34),
        "most pixels in one prediction request, summed over its images; more gets 413",
    )
    timeout_graceful_shutdown: int = _setting(
        25, _int_in(0, 3600), "seconds in-flight requests get to finish after SIGTERM"
    )
    timeout_keep_alive: int = _setting(
        5, _int_in(1, 3600), "seconds an idle keep-alive connection stays open"
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting from its environment variable, or its default."""
        return cls.resolve({}, environ)

    @classmethod
    def resolve(cls, flags: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting from ``flags`` (raw values by field name), then the environment,
        then the default. Raises SettingsError naming the flag or variable of a bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        names: dict[str, str] = {}
        for setting in SETTINGS:
            if setting.field in flags and setting.flag is not None:
                name, raw = setting.flag, flags[setting.field]
            elif setting.env in env:
                name, raw = setting.env, env[setting.env]
            else:
                names[setting.field] = setting.env
                continue
            values[setting.field] = setting.parse(name, raw)
            names[setting.field] = name
        settings = cls(**values)
        if settings.workers > 1 and not env.get(MULTIPROC_ENV):
            raise SettingsError(
                names["workers"],
                str(settings.workers),
                f"more than 1 worker needs {MULTIPROC_ENV} (an empty writable directory) "
                "so /metrics adds up all workers; or keep WORKERS=1 and scale by replicas",
            )
        return settings

    def public(self) -> dict[str, Any]:
        """The settings as JSON-able values, with the admin token hidden."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "admin_token":
                value = "***" if value else None
            out[item.name] = str(value) if isinstance(value, Path) else value
        return out


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(
        field=item.name,
        env=item.name.upper(),
        flag=None if item.metadata["rule"].secret else "--" + item.name.replace("_", "-"),
        default=item.default,
        rule=item.metadata["rule"],
        help=item.metadata["help"],
    )
    for item in fields(Settings)
)


def shown(default: Any) -> str:
    """A default as a user writes it: true/false, unset, or the value as text."""
    if isinstance(default, bool):
        return "true" if default else "false"
    return "unset" if default is None else str(default)


def _epilog(width: int = 79) -> str:
    def item(name: str, text: str) -> str:
        return textwrap.fill(text, width, initial_indent=f"  {name}: ", subsequent_indent="      ")

    env_only = [
        item(setting.env, f"{setting.help}; default {shown(setting.default)}; {setting.rule.text}")
        for setting in SETTINGS
        if setting.flag is None
    ]
    env_only.append(
        item(
            MULTIPROC_ENV,
            "where the workers' metrics are added up; needed for WORKERS > 1; a previous run's "
            "metric files there are removed at start",
        )
    )
    paragraphs = [
        textwrap.fill(
            "Flags override environment variables, which override the defaults. The flags given "
            "are exported to the environment, so every worker process (WORKERS > 1) sees them. "
            "The container healthcheck reads PORT from the environment: in containers set PORT, "
            "not --port.",
            width,
        ),
        "environment only (secrets stay out of the process list):\n" + "\n".join(env_only),
        textwrap.fill(
            "SIGTERM drains the requests in flight and exits 0; SIGHUP reloads the model. "
            "Exit status 2: an invalid setting or an unknown flag.",
            width,
        ),
    ]
    return "\n\n".join(paragraphs)


def build_parser() -> ArgumentParser:
    """The command line of ``python -m <package>.serve``: one flag per setting but secrets."""
    parser = ArgumentParser(
        prog=f"python -m {__package__}",
        description="Serve the ONNX model of MODEL_DIR over HTTP: predictions, health and metrics.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the epilog is laid out already
    )
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        help_text = (
            f"{setting.help} (env {setting.env}, default {shown(setting.default)}; {setting.rule.text})"
        )
        if isinstance(setting.default, bool):
            parser.add_argument(
                setting.flag,
                dest=setting.field,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(setting.flag, dest=setting.field, metavar=setting.env, help=help_text)
    return parser


def parse_flags(argv: Sequence[str] | None = None) -> dict[str, str]:
    """The raw values of the flags given, by field name (``--enable-noop`` gives "true").

    ``--help`` prints the settings and exits 0; an unknown flag or a missing value
    prints one line and exits 2 (see ``cli.ArgumentParser``).
    """
    args = build_parser().parse_args(argv)
    flags: dict[str, str] = {}
    for name, value in vars(args).items():
        if isinstance(value, bool):
            flags[name] = "true" if value else "false"
        elif value is not None:
            flags[name] = value
    return flags


def flags_as_env(flags: Mapping[str, str]) -> dict[str, str]:
    """The environment variables equivalent to ``flags`` (for worker processes)."""
    by_field = {setting.field: setting for setting in SETTINGS}
    return {by_field[name].env: value for name, value in flags.items()}
