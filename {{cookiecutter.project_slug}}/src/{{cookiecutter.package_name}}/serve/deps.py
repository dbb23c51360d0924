"""FastAPI dependencies: how routes reach the server state, the served model and the settings."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from .errors import ApiError
from .lifecycle import ServerState
from .predictor import LoadedModel


def get_state(request: Request) -> ServerState:
    """The ServerState that ``create_app`` stored on the app."""
    state = request.app.state.server
    assert isinstance(state, ServerState)
    return state


State = Annotated[ServerState, Depends(get_state)]


def get_model(state: State) -> LoadedModel:
    """The model to answer with; raises Draining or ModelNotReady (503) when there is none."""
    return state.ready_model()


Model = Annotated[LoadedModel, Depends(get_model)]


def require_admin(request: Request, state: State) -> None:
    """Check ``Authorization: Bearer <ADMIN_TOKEN>`` in constant time; raises ApiError 403."""
    token = (state.settings.admin_token or "").encode()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
        raise ApiError(403, "forbidden", "send the header Authorization: Bearer <ADMIN_TOKEN>")
