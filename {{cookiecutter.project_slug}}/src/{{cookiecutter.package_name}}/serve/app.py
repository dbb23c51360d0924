"""The HTTP API: ``create_app(settings)`` builds a FastAPI app around a ModelManager.

The pieces live beside it: ``routes/`` (health, v1, v2, admin) reach the server state through
``deps.py``; ``middleware/`` holds the body limit and observability; ``lifecycle.py`` the
state, model watcher, reloads and signals; ``errors.py`` maps every error to JSON.
"""

from __future__ import annotations

from fastapi import FastAPI
from PIL import Image

from .. import __doc__ as package_doc
from .. import __title__, __version__
from .errors import install_error_handlers
from .lifecycle import ServerState, lifespan
from .middleware.limits import BodyLimitMiddleware
from .middleware.observability import ObservabilityMiddleware
from .routes import admin, health, v1, v2
from .settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """A FastAPI app serving MODEL_DIR with ``settings``; the model loads in its lifespan."""
    state = ServerState(settings)
    Image.MAX_IMAGE_PIXELS = settings.max_image_pixels
    app = FastAPI(
        title=__title__,
        version=__version__,
        description=f"{package_doc} Every error is " + '`{"error": {"code": ..., "message": ...}}`.',
        lifespan=lifespan(state),
        # The server's metrics are Prometheus (/metrics) and its logs JSON lines. FastAPI's
        # OpenTelemetry bridge, on by default, asks OpenTelemetry for its providers on every
        # request (an environment lookup each time: a fifth of the event loop's time under
        # load); turn it back on here when the project adopts OpenTelemetry.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.server = state
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObservabilityMiddleware, metrics=state.metrics, routes=lambda: app.routes)
    app.include_router(health.router)
    app.include_router(v1.build_router(settings))
    app.include_router(v2.build_router())
    if settings.admin_token:
        app.include_router(admin.router)
    return app
