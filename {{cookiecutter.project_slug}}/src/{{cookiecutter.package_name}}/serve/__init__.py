"""The model server: a FastAPI app over ONNX Runtime (``python -m <package>.serve``).

Only numpy, Pillow, onnxruntime, FastAPI/uvicorn, python-multipart and
prometheus-client are needed here; no training framework is imported. Importing the
package imports none of them: ``create_app`` loads on first use, so the healthcheck and
``--help`` start in a few milliseconds.
"""

from __future__ import annotations

from typing import Any

from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
