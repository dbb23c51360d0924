"""FastAPI dependencies: how routes reach the server state, the served model and the settings.

They are ``async def`` because none of them blocks: FastAPI runs a plain ``def`` dependency
on its thread pool, two thread hand-offs per request for nothing.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from .errors import ApiError
from .lifecycle import ServerState
from .predictor import LoadedModel


async def get_state(request: Request) -> ServerState:
    """The ServerState that ``create_app`` stored on the app."""
    state = request.app.state.server
    assert isinstance(state, ServerState)
    return state


State = Annotated[ServerState, Depends(get_state)]


async def get_model(state: State) -> LoadedModel:
    """The model to answer with; raises Draining or ModelNotReady (503) when there is none."""
    return state.ready_model()


Model = Annotated[LoadedModel, Depends(get_model)]


async def require_admin(request: Request, state: State) -> None:
    """Check ``Authorization: Bearer <ADMIN_TOKEN>`` in constant time; raises ApiError 403."""
    token = (state.settings.admin_token or "").encode()
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
        raise ApiError(403, "forbidden", "send the header Authorization: Bearer <ADMIN_TOKEN>")
