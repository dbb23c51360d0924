"""``python -m <package>.serve``: validate the settings, then run uvicorn.

Exit codes: 0 after a graceful shutdown (SIGTERM/SIGINT), 2 for an invalid setting.

Scaling: WORKERS defaults to 1 and the intended way to scale is more replicas (one
process per container, its CPU limit given to ONNX Runtime's threads). WORKERS > 1
runs uvicorn's process supervisor and needs PROMETHEUS_MULTIPROC_DIR so /metrics adds
up the workers; SIGHUP then restarts the workers (each loads the model again) instead
of reloading in place.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from .metrics import multiprocess_dir
from .settings import Settings, SettingsError

logger = logging.getLogger(__name__)


def _after_shutdown(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the signal that stopped it once it is done; exit 0 instead of dying."""


def _reset_multiprocess_dir(directory: str) -> None:
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for child in path.iterdir():  # stale values of a previous run would be added up too
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from .app import create_app, log_config

    directory = multiprocess_dir()
    if directory is not None:
        _reset_multiprocess_dir(directory)

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
