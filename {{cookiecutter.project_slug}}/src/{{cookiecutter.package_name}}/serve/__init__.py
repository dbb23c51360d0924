"""The model server: a FastAPI app over ONNX Runtime (``python -m <package>.serve``).

Only numpy, Pillow, onnxruntime, FastAPI/uvicorn, python-multipart and
prometheus-client are needed here; no training framework is imported.
"""

from .app import create_app
from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]
