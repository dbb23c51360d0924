"""Administration: POST /admin/reload (only routed while ADMIN_TOKEN is set)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from ..deps import State, require_admin
from ..domain import ModelLoadError, ReloadFailed
from ..errors import ErrorResponse
from ..lifecycle import reload_model
from ..schemas import ReloadResponse

router = APIRouter(tags=["admin"])


@router.post(
    "/admin/reload",
    response_model=ReloadResponse,
    dependencies=[Depends(require_admin)],
    responses={
        403: {"model": ErrorResponse, "description": "Missing or wrong token."},
        503: {
            "model": ErrorResponse,
            "description": "The new model failed to load; the previous one is still served.",
        },
    },
)
async def admin_reload(state: State) -> ReloadResponse:
    """Load MODEL_DIR again and swap it in (header Authorization: Bearer ADMIN_TOKEN)."""
    try:
        previous, new = await reload_model(state)
    except ModelLoadError as exc:  # the detail is logged by reload_model
        serving = "still serving the previous model" if state.manager.current else "no model is served"
        raise ReloadFailed(f"the model could not be loaded: {exc.reason}; {serving}") from None
    return ReloadResponse(
        model_version=new.version,
        previous_model_version=previous.version if previous else None,
        swapped=previous is None or previous.fingerprint != new.fingerprint,
    )
