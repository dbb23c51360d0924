"""Open Inference Protocol (KServe v2) routes beside /v1: health, metadata, infer.

Errors on these routes are the protocol's ``{"error": "<message>"}`` (``errors.py``);
the codec is ``protocol_v2.py``. The model is MODEL_NAME, its version the manifest's
``model_version``; any other name or version is a 404.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import Response

from ... import __version__
from ..admission import Admission
from ..deps import Model, State
from ..errors import ERROR_RESPONSES, ApiError
from ..parsing import read_body
from ..predictor import LoadedModel, preprocess_uploads
from ..protocol_v2 import (
    EXTENSIONS,
    HEADER_LENGTH,
    IMAGE_INPUT,
    LABEL,
    PROBABILITIES,
    Decoded,
    ErrorV2,
    InferenceRequest,
    InferenceResponse,
    Liveness,
    ModelMetadata,
    ModelReadiness,
    Readiness,
    ServerMetadata,
    TensorMetadata,
    decode_request,
    encode_response,
)
from ..settings import Settings

# The statuses that mean here what they mean for /v1 share its descriptions; the body is
# the protocol's {"error": "..."} (ErrorV2).
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorV2, "description": description}
    for status, description in {
        400: "A malformed inference request (the message names the input, shape or data at fault).",
        404: "No model of that name or version.",
        415: "An image format outside PNG, JPEG, BMP, GIF, TIFF and WebP.",
        422: "An image's pixel format cannot be converted.",
        **{status: ERROR_RESPONSES[status]["description"] for status in (408, 413, 503, 504)},
    }.items()
}


def _check_model(state: State, model_name: str, model_version: str | None) -> None:
    """Raise ApiError 404 unless the path names the served model (and its version)."""
    name = state.settings.model_name
    if model_name != name:
        raise ApiError(404, "unknown_model", f"no model {model_name!r}; this server serves {name!r}")
    current = state.manager.current
    if model_version is not None and (current is None or model_version != current.version):
        served = current.version if current is not None else "none loaded yet"
        raise ApiError(404, "unknown_version", f"no version {model_version!r} of {name!r} (served: {served})")


async def server_metadata(state: State) -> ServerMetadata:
    """The server's name, version and protocol extensions."""
    return ServerMetadata(name=state.settings.model_name, version=__version__, extensions=EXTENSIONS)


async def server_live() -> Liveness:
    """200 while the process runs."""
    return Liveness(live=True)


async def server_ready(model: Model) -> Readiness:
    """200 once the model is loaded and warmed up; 503 before that and while draining."""
    return Readiness(ready=True)


async def model_ready(
    state: State, model_name: str, model: Model, model_version: str | None = None
) -> ModelReadiness:
    """200 when the named model is loaded and ready; 503 before that."""
    _check_model(state, model_name, model_version)
    return ModelReadiness(name=model_name, ready=True)


async def model_metadata(
    state: State, model_name: str, model: Model, model_version: str | None = None
) -> ModelMetadata:
    """The model's versions, platform and tensors."""
    _check_model(state, model_name, model_version)
    manifest = model.model_dir.manifest
    return ModelMetadata(
        name=model_name,
        versions=[model.version],
        platform=f"onnxruntime_onnx ({manifest.framework})",
        inputs=[
            TensorMetadata(name=manifest.input_name, datatype="FP32", shape=[-1, *model.example_shape]),
            TensorMetadata(name=IMAGE_INPUT, datatype="BYTES", shape=[-1]),
        ],
        outputs=[
            TensorMetadata(name=PROBABILITIES, datatype="FP32", shape=[-1, model.num_classes]),
            TensorMetadata(name=LABEL, datatype="BYTES", shape=[-1]),
        ],
    )


def _model_input(model: LoadedModel, decoded: Decoded, settings: Settings) -> np.ndarray:
    """Blocking: the request's tensor, or its images preprocessed; on an inference worker."""
    if decoded.tensor is not None:
        return decoded.tensor
    uploads = [(f"{IMAGE_INPUT}[{number}]", data) for number, data in enumerate(decoded.images or [])]
    return preprocess_uploads(model, uploads, settings.max_image_pixels, settings.max_request_pixels)


async def infer(
    request: Request, state: State, model_name: str, model: Model, model_version: str | None = None
) -> Response:
    """Run the model on one input: preprocessed FP32 tensors or encoded images (BYTES)."""
    _check_model(state, model_name, model_version)
    settings = state.settings
    async with Admission(state) as admitted:
        body = await read_body(request, settings)
        decoded = decode_request(
            body,
            request.headers.get(HEADER_LENGTH),
            tensor_name=model.model_dir.manifest.input_name,
            example_shape=model.example_shape,
            max_batch=settings.max_batch,
            value_range=model.value_range,
        )
        state.metrics.batch_size.observe(decoded.batch)
        prepare = partial(_model_input, model, decoded, settings)
        probabilities = await admitted.infer(model, decoded.batch, prepare)
    labels = model.model_dir.labels
    content, headers = encode_response(decoded, probabilities, labels, model_name, model.version)
    return Response(content, headers=headers)


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """``schema`` with every ``{"$ref": "#/$defs/<name>"}`` replaced by that definition (the
    request models do not nest themselves, so this ends)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions)
        return {key: _inline(value, definitions) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema


def _infer_body() -> dict[str, Any]:
    """The infer route's request body for OpenAPI: it reads the raw body itself (for the
    binary extension), so the schema is declared here, self-contained: pydantic's ``$defs``
    would be referenced from the document's root, where they are not."""
    schema = InferenceRequest.model_json_schema()
    schema = _inline(schema, schema.get("$defs", {}))
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary"},
                    "description": f"binary tensor data extension: a JSON header of {HEADER_LENGTH} bytes, "
                    "then the tensors",
                },
            },
        }
    }


def build_router() -> APIRouter:
    """The /v2 routes, each model route also under /versions/{model_version}."""
    router = APIRouter(prefix="/v2", tags=["v2 (Open Inference Protocol)"])
    router.add_api_route("", server_metadata, methods=["GET"], response_model=ServerMetadata)
    router.add_api_route("/health/live", server_live, methods=["GET"], response_model=Liveness)
    router.add_api_route(
        "/health/ready", server_ready, methods=["GET"], response_model=Readiness,
        responses={503: _ERRORS[503]},
    )  # fmt: skip
    for prefix in ("/models/{model_name}", "/models/{model_name}/versions/{model_version}"):
        router.add_api_route(
            prefix, model_metadata, methods=["GET"], response_model=ModelMetadata,
            responses={404: _ERRORS[404], 503: _ERRORS[503]},
        )  # fmt: skip
        router.add_api_route(
            f"{prefix}/ready", model_ready, methods=["GET"], response_model=ModelReadiness,
            responses={404: _ERRORS[404], 503: _ERRORS[503]},
        )  # fmt: skip
        router.add_api_route(
            f"{prefix}/infer", infer, methods=["POST"], response_class=Response,
            responses={200: {"model": InferenceResponse, "description": "The outputs."}, **_ERRORS},
            openapi_extra=_infer_body(),
        )  # fmt: skip
    return router
