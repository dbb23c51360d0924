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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from ..cli import ArgumentParser, usage_error

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


def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError
    return value


def _timeout(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 3600:  # also rejects nan
        raise ValueError
    return value


def _path(raw: str) -> str:
    if not raw.startswith("/"):
        raise ValueError
    return raw


class _Setting(NamedTuple):
    name: str  # the flag is --<name>
    env: str | None  # None: flag only
    metavar: str
    default: str
    rule: str
    parse: Callable[[str], Any]  # raises ValueError when the rule is broken
    help: str


SETTINGS = (
    _Setting(
        "port", "PORT", "PORT", "8000", "must be an integer from 1 to 65535", _port, "port of the server"
    ),
    _Setting(
        "timeout",
        "HEALTHCHECK_TIMEOUT",
        "HEALTHCHECK_TIMEOUT",
        "3",
        "must be a number greater than 0 and at most 3600",
        _timeout,
        "seconds to wait for the answer",
    ),
    _Setting("path", None, "URL_PATH", "/readyz", "must start with /", _path, "path that must answer 200"),
)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog=f"python -m {__package__}.healthcheck",
        description="Exit 0 if the server on 127.0.0.1:PORT answers GET URL_PATH with 200, else 1.",
        epilog="Flags override environment variables, which override the defaults. "
        "Exit status: 0 healthy, 1 unhealthy, 2 a bad flag or setting.",
    )
    for setting in SETTINGS:
        source = f"env {setting.env}, " if setting.env else ""
        parser.add_argument(
            f"--{setting.name}",
            metavar=setting.metavar,
            default=None,
            help=f"{setting.help} ({source}default {setting.default}; {setting.rule})",
        )
    return parser


def resolve(argv: Sequence[str] | None, environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings from flags, then the environment, then the defaults (as the server
    reads them: an empty value means the default).

    Raises ValueError with a one-line message naming the flag or variable of a bad value.
    """
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        flag_value = getattr(args, setting.name)
        if flag_value is not None:
            source, raw = f"--{setting.name}", flag_value
        elif setting.env is not None and setting.env in environ:
            source, raw = setting.env, environ[setting.env]
        else:
            source, raw = setting.name, setting.default
        try:
            values[setting.name] = setting.parse(raw.strip() or setting.default)
        except ValueError:
            raise ValueError(f"invalid setting {source}={raw!r}: {setting.rule}") from None
    return values


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = resolve(sys.argv[1:] if argv is None else argv, os.environ)
    except ValueError as exc:
        return usage_error(str(exc))
    healthy, detail = check(settings["port"], settings["timeout"], settings["path"])
    print(f"healthcheck: {detail}", file=sys.stderr if not healthy else sys.stdout)
    return HEALTHY if healthy else UNHEALTHY


if __name__ == "__main__":
    sys.exit(main())
