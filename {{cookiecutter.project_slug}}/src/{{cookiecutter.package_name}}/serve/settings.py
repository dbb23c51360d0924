"""Server settings, read from environment variables and validated once at startup.

A bad value stops the server with one line naming the variable, its value and the
rule it breaks (exit code 2), instead of failing later on the first request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


class SettingsError(ValueError):
    """A setting has a value that breaks its rule."""

    def __init__(self, name: str, value: str, rule: str) -> None:
        super().__init__(f"invalid setting {name}={value!r}: {rule}")
        self.name = name
        self.value = value
        self.rule = rule


@dataclass(frozen=True)
class Settings:
    """Every knob of the server; each field is read from the variable of the same name."""

    # A containerized server listens on all interfaces; Service and compose ports decide exposure.
    host: str = "0.0.0.0"  # nosec B104
    port: int = 8000
    model_dir: Path = Path("models/current")
    max_batch: int = 32
    max_body_bytes: int = 10 * 1024 * 1024
    max_concurrency: int = 4
    request_timeout: float = 10.0
    top_k: int = 3
    workers: int = 1
    log_level: str = "info"
    admin_token: str | None = None
    enable_noop: bool = False
    model_poll_seconds: float = 0.0
    model_retry_seconds: float = 5.0
    ort_threads: int = 0  # 0: the CPU limit of the container (runtime.cpu_limit())
    max_image_pixels: int = 4096 * 4096
    timeout_graceful_shutdown: int = 25
    timeout_keep_alive: int = 5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()

        def get(name: str, parse: Callable[[str, str], T], default: T) -> T:
            raw = env.get(name)
            if raw is None or (raw.strip() == "" and not isinstance(default, str | Path)):
                return default
            return parse(name, raw.strip())

        settings = cls(
            host=get("HOST", _nonempty, defaults.host),
            port=get("PORT", _int_in(1, 65535), defaults.port),
            model_dir=get("MODEL_DIR", _path, defaults.model_dir),
            max_batch=get("MAX_BATCH", _int_in(1, 1024), defaults.max_batch),
            max_body_bytes=get("MAX_BODY_BYTES", _int_in(1024, 1 << 31), defaults.max_body_bytes),
            max_concurrency=get("MAX_CONCURRENCY", _int_in(1, 1024), defaults.max_concurrency),
            request_timeout=get("REQUEST_TIMEOUT", _float_in(0.001, 3600), defaults.request_timeout),
            top_k=get("TOP_K", _int_in(1, 1000), defaults.top_k),
            workers=get("WORKERS", _int_in(1, 64), defaults.workers),
            log_level=get("LOG_LEVEL", _choice(LOG_LEVELS), defaults.log_level),
            admin_token=get("ADMIN_TOKEN", _token, defaults.admin_token),
            enable_noop=get("ENABLE_NOOP", _bool, defaults.enable_noop),
            model_poll_seconds=get("MODEL_POLL_SECONDS", _float_in(0, 86400), defaults.model_poll_seconds),
            model_retry_seconds=get(
                "MODEL_RETRY_SECONDS", _float_in(0.05, 3600), defaults.model_retry_seconds
            ),
            ort_threads=get("ORT_THREADS", _int_in(0, 256), defaults.ort_threads),
            max_image_pixels=get("MAX_IMAGE_PIXELS", _int_in(64, 1 << 30), defaults.max_image_pixels),
            timeout_graceful_shutdown=get(
                "TIMEOUT_GRACEFUL_SHUTDOWN", _int_in(0, 3600), defaults.timeout_graceful_shutdown
            ),
            timeout_keep_alive=get("TIMEOUT_KEEP_ALIVE", _int_in(1, 3600), defaults.timeout_keep_alive),
        )
        if settings.workers > 1 and not env.get("PROMETHEUS_MULTIPROC_DIR"):
            raise SettingsError(
                "WORKERS",
                str(settings.workers),
                "more than 1 worker needs PROMETHEUS_MULTIPROC_DIR (an empty writable directory) "
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


def _nonempty(name: str, raw: str) -> str:
    if not raw:
        raise SettingsError(name, raw, "must not be empty")
    return raw


def _path(name: str, raw: str) -> Path:
    return Path(_nonempty(name, raw))


def _int_in(low: int, high: int) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(name, raw, f"must be an integer from {low} to {high}") from None
        if not low <= value <= high:
            raise SettingsError(name, raw, f"must be an integer from {low} to {high}")
        return value

    return parse


def _float_in(low: float, high: float) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(name, raw, f"must be a number from {low} to {high}") from None
        if not low <= value <= high:  # also rejects nan
            raise SettingsError(name, raw, f"must be a number from {low} to {high}")
        return value

    return parse


def _choice(options: tuple[str, ...]) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if raw.lower() not in options:
            raise SettingsError(name, raw, f"must be one of {', '.join(options)}")
        return raw.lower()

    return parse


def _bool(name: str, raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(name, raw, "must be a boolean: 1/0, true/false, yes/no or on/off")


def _token(name: str, raw: str) -> str | None:
    if not raw:
        return None
    if len(raw) < 16:
        raise SettingsError(name, "***", "must be at least 16 characters (or unset to disable admin)")
    return raw
