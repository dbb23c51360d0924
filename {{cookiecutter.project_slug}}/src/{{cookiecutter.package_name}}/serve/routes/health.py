"""Health and metrics: /livez, /readyz, /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ..deps import Model, State
from ..errors import ERROR_RESPONSES
from ..schemas import StatusResponse

router = APIRouter(tags=["health"])


@router.get("/livez", response_model=StatusResponse)
async def livez() -> StatusResponse:
    """The process is up (always 200 while it runs)."""
    return StatusResponse(status="alive")


@router.get("/readyz", response_model=StatusResponse, responses={503: ERROR_RESPONSES[503]})
async def readyz(model: Model) -> StatusResponse:
    """200 once a model is loaded and warmed up; 503 before that and while draining."""
    return StatusResponse(status="ready", model_version=model.version)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format.",
        }
    },
)
def metrics(state: State) -> Response:
    """Prometheus metrics (rendered on a worker thread: never on the event loop)."""
    return Response(state.metrics.render(), media_type=state.metrics.content_type)
