"""``python -m <package>.serve.healthcheck``: exit 0 iff GET /readyz answers 200.

For Docker's HEALTHCHECK (images carry no curl). Standard library only, so it starts
fast; reads PORT like the server (default 8000) and HEALTHCHECK_TIMEOUT (seconds, 3),
each overridden by its flag (see ``--help``).

Exit status: 0 healthy, 1 unhealthy (no answer, or not 200), 2 a bad flag or setting.
"""

from __future__ import annotations

import http.client
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..cli import ArgumentParser, usage_error
from ..settings import (
    Rule,
    SettingsError,
    add_flags,
    int_in,
    number_in,
    parse_flags,
    resolve,
    setting,
    settings_of,
)

HEALTHY, UNHEALTHY = 0, 1


def check(port: int, timeout: float, path: str = "/readyz") -> tuple[bool, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"User-Agent": "healthcheck"})
        response = connection.getresponse()
        response.read()
        return response.status == 200, f"GET {path} -> {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        return False, f"GET {path} failed: {exc}"
    finally:
        connection.close()


def _url_path(raw: str) -> str:
    if not raw.startswith("/"):
        raise ValueError
    return raw


@dataclass(frozen=True)
class HealthcheckSettings:
    """What the healthcheck asks: PORT like the server, HEALTHCHECK_TIMEOUT, and a path (a flag only)."""

    port: int = setting(8000, int_in(1, 65535), "port of the server")
    timeout: float = setting(
        3.0, number_in(0, 3600, above_low=True), "seconds to wait for the answer", env="HEALTHCHECK_TIMEOUT"
    )
    path: str = setting(
        "/readyz",
        Rule("must start with /", _url_path),
        "path that must answer 200",
        env=None,
        metavar="URL_PATH",
    )


SETTINGS = settings_of(HealthcheckSettings)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.healthcheck",
        description="Exit 0 if the server on 127.0.0.1:PORT answers GET URL_PATH with 200, else 1.",
        epilog="Flags override environment variables, which override the defaults. "
        "Exit status: 0 healthy, 1 unhealthy, 2 a bad flag or setting.",
    )
    add_flags(parser, HealthcheckSettings)
    return parser


def resolve_settings(argv: Sequence[str] | None, environ: Mapping[str, str]) -> HealthcheckSettings:
    """The settings from flags, then the environment, then the defaults (as the server
    reads them: an empty value means the default). Raises SettingsError."""
    settings, _ = resolve(HealthcheckSettings, parse_flags(build_parser(), argv), environ)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = resolve_settings(sys.argv[1:] if argv is None else argv, os.environ)
    except SettingsError as exc:
        return usage_error(str(exc))
    healthy, detail = check(settings.port, settings.timeout, settings.path)
    print(f"healthcheck: {detail}", file=sys.stderr if not healthy else sys.stdout)
    return HEALTHY if healthy else UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
