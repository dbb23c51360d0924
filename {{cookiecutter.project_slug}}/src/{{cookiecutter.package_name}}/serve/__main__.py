"""``python -m <package>.serve``: validate the settings, then run uvicorn.

Settings come from environment variables, overridden by flags (see ``--help``, which
starts nothing). Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 2 for an
invalid setting or an unknown flag (one line on stderr).

Scaling: WORKERS defaults to 1 and the intended way to scale is more replicas (one
process per container, its CPU limit given to ONNX Runtime's threads). WORKERS > 1
runs uvicorn's process supervisor and needs PROMETHEUS_MULTIPROC_DIR so /metrics adds
up the workers; SIGHUP then restarts the workers (each loads the model again) instead
of reloading in place. Each worker builds its app from the environment
(``app_from_env``), so the flags given are exported to the environment first.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING

from ..cli import usage_error
from .settings import Settings, SettingsError, flags_as_env, parse_flags

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal that stopped it once it is done; exit 0 instead of dying."""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and the environment, then serve until stopped."""
    flags = parse_flags(sys.argv[1:] if argv is None else argv)  # --help and bad flags exit here
    try:
        settings = Settings.resolve(flags)
    except SettingsError as exc:
        return usage_error(str(exc))
    # Worker processes (WORKERS > 1) read the environment only: hand the flags on to them.
    os.environ.update(flags_as_env(flags))

    # The web stack is needed only to serve: --help and bad settings do without it here.
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .app import create_app
    from .logs import log_config
    from .metrics import multiprocess_dir, reset_multiprocess_dir

    directory = multiprocess_dir()
    if directory is not None:
        reset_multiprocess_dir(directory)  # a previous run's values would be added up too

    # With several workers, each worker process builds the app from the environment.
    several = settings.workers > 1
    config = uvicorn.Config(
        f"{__package__}.__main__:app_from_env" if several else create_app(settings),
        factory=several,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        log_config=log_config(settings.log_level),
        log_level=settings.log_level,
        access_log=False,  # the app writes one JSON access line per request itself
        timeout_graceful_shutdown=settings.timeout_graceful_shutdown,
        timeout_keep_alive=settings.timeout_keep_alive,
        server_header=False,
        proxy_headers=False,
    )

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _after_shutdown)
    if several:
        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run()
    return 0


def app_from_env() -> FastAPI:
    """App factory for uvicorn workers (WORKERS > 1)."""
    from .app import create_app

    return create_app(Settings.from_env())


if __name__ == "__main__":
    sys.exit(main())
