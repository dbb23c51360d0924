"""Server settings: environment variables, overridden by command-line flags, validated once.

Each setting is declared once, as a field of ``Settings`` (its default, rule and help; the
mechanism, shared with training and the healthcheck, is ``..settings``): the environment
variable is the field name in upper case and the flag is ``--field-name``.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..cli import ArgumentParser
from ..settings import (
    BOOL,
    PATH,
    TEXT,
    Rule,
    SettingsError,
    add_flags,
    choice,
    int_in,
    number_in,
    resolve,
    setting,
    settings_of,
)
from ..settings import parse_flags as _parse_flags

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")

# Environment variables the server reads besides the settings (documented in --help).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A containerized server listens on all interfaces; Service and compose ports decide exposure.
_ALL_INTERFACES = "0.0.0.0"  # nosec B104


def _name(raw: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", raw):
        raise ValueError
    return raw


def _token(raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) < 16:
        raise ValueError
    return raw


_NAME = Rule("must be 1 to 64 letters, digits, '.', '_' or '-' (a URL path segment)", _name)
_TOKEN = Rule("must be at least 16 characters (or unset to disable admin)", _token, secret=True)


@dataclass(frozen=True)
class Settings:
    """Every knob of the server; each field is read from the variable of the same name."""

    host: str = setting(_ALL_INTERFACES, TEXT, "address to listen on")
    port: int = setting(8000, int_in(1, 65535), "TCP port to listen on")
    model_dir: Path = setting(
        Path("models/current"),
        PATH,
        "model directory to serve (model.onnx, labels.json, manifest.json); "
        "the server starts without it and is ready once it appears",
    )
    max_batch: int = setting(32, int_in(1, 1024), "most images in one prediction request")
    max_body_bytes: int = setting(
        10 * 1024 * 1024, int_in(1024, 1 << 31), "largest request body in bytes; a larger one gets 413"
    )
    max_concurrency: int = setting(
        4,
        int_in(1, 1024),
        "prediction requests admitted at once, from their body's first byte to the inference's "
        "end; further requests get 503 and Retry-After before their body is read",
    )
    body_timeout: float = setting(
        10.0,
        number_in(0.1, 3600),
        "seconds a client gets to send a whole request body; a slower one gets 408",
    )
    request_timeout: float = setting(
        10.0, number_in(0.001, 3600), "seconds an inference may take before the request gets 504"
    )
    model_name: str = setting(
        "{{ cookiecutter.project_slug }}", _NAME, "the model's name in the /v2 (Open Inference Protocol) paths"
    )
    top_k: int = setting(3, int_in(1, 1000), "classes returned per image unless the request asks")
    workers: int = setting(
        1,
        int_in(1, 64),
        f"server processes; more than 1 needs {MULTIPROC_ENV}; prefer more replicas",
    )
    log_level: str = setting("info", choice(*LOG_LEVELS), "least severe level logged")
    admin_token: str | None = setting(
        None, _TOKEN, "bearer token of POST /admin/reload; the route is off while unset"
    )
    enable_noop: bool = setting(False, BOOL, "serve GET /v1/noop, an empty route for benchmarks")
    model_poll_seconds: float = setting(
        0.0, number_in(0, 86400), "look for a new model every N seconds and swap it in; 0 disables"
    )
    model_retry_seconds: float = setting(
        5.0, number_in(0.05, 3600), "seconds between attempts to load a missing or broken model"
    )
    ort_threads: int = setting(
        0,
        int_in(0, 256),
        "ONNX Runtime threads per model run; 0: the container's CPU limit shared among the "
        "inference workers (one per CPU, at most MAX_CONCURRENCY), at least 1",
    )
    batch_max_images: int = setting(
        32, int_in(1, 4096), "most images in one model run: requests waiting together are batched up to this"
    )
    batch_wait_ms: float = setting(
        0.0,
        number_in(0, 1000),
        "milliseconds a batch waits for more requests after its first; 0 batches only those already waiting",
    )
    max_image_pixels: int = setting(
        4096 * 4096,
        int_in(64, 1 << 30),
        "largest image in pixels, width times height; a larger one gets 413",
    )
    max_request_pixels: int = setting(
        4 * 4096 * 4096,
        int_in(64, 1 << 34),
        "most pixels in one prediction request, summed over its images; more gets 413",
    )
    timeout_graceful_shutdown: int = setting(
        25, int_in(0, 3600), "seconds in-flight requests get to finish after SIGTERM"
    )
    timeout_keep_alive: int = setting(5, int_in(1, 3600), "seconds an idle keep-alive connection stays open")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting from its environment variable, or its default."""
        return cls.resolve({}, environ)

    @classmethod
    def resolve(cls, flags: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Settings:
        """Every setting from ``flags`` (raw values by field name), then the environment,
        then the default. Raises SettingsError naming the flag or variable of a bad value."""
        env = os.environ if environ is None else environ
        settings, names = resolve(cls, flags, env)
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


SETTINGS = settings_of(Settings)


def _epilog(width: int = 79) -> str:
    def item(name: str, text: str) -> str:
        return textwrap.fill(text, width, initial_indent=f"  {name}: ", subsequent_indent="      ")

    env_only = [
        item(setting.env, f"{setting.help}; default {setting.shown}; {setting.rule.text}")
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
    add_flags(parser, Settings)
    return parser


def parse_flags(argv: Sequence[str] | None = None) -> dict[str, str]:
    """The raw values of the flags given, by field name (``--enable-noop`` gives "true").

    ``--help`` prints the settings and exits 0; an unknown flag or a missing value
    prints one line and exits 2 (see ``cli.ArgumentParser``).
    """
    return _parse_flags(build_parser(), argv)


def flags_as_env(flags: Mapping[str, str]) -> dict[str, str]:
    """The environment variables equivalent to ``flags`` (for worker processes)."""
    by_field = {setting.field: setting for setting in SETTINGS}
    return {by_field[name].env: value for name, value in flags.items()}
