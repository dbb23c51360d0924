"""The model API: /v1/predict, /v1/model and (ENABLE_NOOP) /v1/noop."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from ..admission import Admission
from ..deps import Model, State
from ..errors import ERROR_RESPONSES, ApiError
from ..parsing import read_images
from ..predictor import preprocess_uploads
from ..schemas import (
    MAX_TOP_K,
    ClassProbability,
    ImagePrediction,
    ModelInfoResponse,
    PredictResponse,
    StatusResponse,
    predict_request_body,
)
from ..settings import Settings


async def model_info(model: Model) -> ModelInfoResponse:
    """The served model's manifest, evaluation metrics and labels."""
    return ModelInfoResponse(
        model_version=model.version,
        loaded_at=model.loaded_at,
        manifest=model.model_dir.manifest.to_json(),
        metrics=model.model_dir.metrics,
        labels=model.model_dir.labels,
    )


def _digits(value: object) -> object:
    """A query value as the client wrote it: decimal digits only (int() would also take
    "1_0", " 3" and "+3")."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number written in digits, e.g. 3")
    return value


async def predict(
    request: Request,
    state: State,
    model: Model,
    top_k: Annotated[
        int | None,
        BeforeValidator(_digits),
        Query(
            ge=1,
            le=MAX_TOP_K,
            description="Classes per image (default TOP_K, see /docs); at most the class count.",
        ),
    ] = None,
) -> PredictResponse:
    """Top-k classes for each image: multipart files, or JSON with base64 images."""
    settings = state.settings
    async with Admission(state) as admitted:
        images, json_top_k = await read_images(request, settings)
        k = json_top_k or top_k or min(settings.top_k, model.num_classes)
        if k > model.num_classes:
            raise ApiError(
                422,
                "top_k_out_of_range",
                f"top_k={k} but the model has {model.num_classes} classes; use 1..{model.num_classes}",
            )
        state.metrics.batch_size.observe(len(images))
        uploads = [(image.name, image.data) for image in images]
        limits = (settings.max_image_pixels, settings.max_request_pixels)
        prepare = partial(preprocess_uploads, model, uploads, *limits)
        results = model.top_k(await admitted.infer(model, len(uploads), prepare), k)
    return PredictResponse(
        model_version=model.version,
        predictions=[
            ImagePrediction(
                index=number,
                filename=upload.filename,
                top_k=[
                    ClassProbability(label=s.label, class_index=s.class_index, probability=s.probability)
                    for s in scores
                ],
            )
            for number, (upload, scores) in enumerate(zip(images, results, strict=True))
        ],
    )


async def noop() -> StatusResponse:
    """Does nothing: the HTTP stack's own ceiling, for benchmarks (ENABLE_NOOP=1)."""
    return StatusResponse(status="ok")


def build_router(settings: Settings) -> APIRouter:
    """The v1 routes; ``settings`` only shape the OpenAPI document and turn /v1/noop on."""
    router = APIRouter(prefix="/v1")
    router.add_api_route(
        "/model",
        model_info,
        methods=["GET"],
        response_model=ModelInfoResponse,
        tags=["model"],
        responses={503: ERROR_RESPONSES[503]},
    )
    router.add_api_route(
        "/predict",
        predict,
        methods=["POST"],
        response_model=PredictResponse,
        tags=["model"],
        responses=ERROR_RESPONSES,
        openapi_extra={"requestBody": predict_request_body(settings.max_batch)},
    )
    if settings.enable_noop:
        router.add_api_route(
            "/noop", noop, methods=["GET"], response_model=StatusResponse, tags=["benchmark"]
        )
    return router
