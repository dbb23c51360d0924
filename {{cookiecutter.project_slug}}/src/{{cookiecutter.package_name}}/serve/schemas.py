"""Request and response bodies of the API (pydantic models and the predict body's schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_TOP_K = 1000


class ClassProbability(BaseModel):
    label: str = Field(description="Class label from labels.json.")
    class_index: int = Field(description="Index of the class in the model's output.")
    probability: float = Field(ge=0.0, le=1.0)


class ImagePrediction(BaseModel):
    index: int = Field(description="Position of the image in the request.")
    filename: str | None = Field(default=None, description="Upload file name, for multipart.")
    top_k: list[ClassProbability] = Field(description="Most likely classes, most likely first.")


class PredictResponse(BaseModel):
    model_version: str
    predictions: list[ImagePrediction]


class PredictJsonRequest(BaseModel):
    model_config = ConfigDict(strict=True)  # "3" or true is no top_k; a number is no image

    images: list[str] = Field(description="Base64-encoded image files (data: URLs are accepted).")
    top_k: int | None = Field(default=None, ge=1, le=MAX_TOP_K)


class StatusResponse(BaseModel):
    status: str
    model_version: str | None = None


class ModelInfoResponse(BaseModel):
    model_version: str
    loaded_at: str
    manifest: dict[str, Any]
    metrics: dict[str, Any]
    labels: list[str]


class ReloadResponse(BaseModel):
    model_version: str
    previous_model_version: str | None
    swapped: bool = Field(description="False when the model on disk was already being served.")


def predict_request_body(max_batch: int) -> dict[str, Any]:
    """OpenAPI ``requestBody`` of /v1/predict (parsed by hand: multipart or JSON)."""
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "maxItems": max_batch,
                            "description": "Image files: PNG, JPEG, BMP, GIF, TIFF or WebP.",
                        },
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A single image file.",
                        },
                    },
                },
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["images"],
                    "properties": {
                        "images": {
                            "type": "array",
                            "items": {"type": "string", "format": "byte"},
                            "minItems": 1,
                            "maxItems": max_batch,
                            "description": "Base64-encoded image files.",
                        },
                        "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K},
                    },
                },
            },
        },
    }
