"""POST /v1/predict with real images through a real ONNX model."""

from __future__ import annotations

import base64
import io

import numpy as np
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from .support import BLACK, LABELS, WHITE, build_onnx, image_bytes


def expected_probabilities(image: bytes) -> np.ndarray:
    pixels = np.asarray(Image.open(io.BytesIO(image)).convert("L").resize((8, 8)), np.float32) / 255
    session = ort.InferenceSession(build_onnx(seed=0), providers=["CPUExecutionProvider"])
    return session.run(None, {"pixels": pixels.reshape(1, -1)})[0][0]


def test_multipart_batch_matches_onnxruntime(client: TestClient) -> None:
    digit = image_bytes(size=(8, 8), color=90)
    response = client.post(
        "/v1/predict",
        files=[("files", ("a.png", digit, "image/png")), ("files", ("b.png", WHITE, "image/png"))],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "v1"
    assert [p["filename"] for p in body["predictions"]] == ["a.png", "b.png"]
    assert [p["index"] for p in body["predictions"]] == [0, 1]
    first = body["predictions"][0]["top_k"]
    assert len(first) == 3  # TOP_K default
    probs = expected_probabilities(digit)
    best = int(np.argmax(probs))
    assert first[0]["class_index"] == best
    assert first[0]["label"] == LABELS[best]
    assert first[0]["probability"] == pytest.approx(float(probs[best]), rel=1e-5)
    assert [c["probability"] for c in first] == sorted((c["probability"] for c in first), reverse=True)
    assert response.headers["x-request-id"]


def test_single_file_field_and_top_k_query(client: TestClient) -> None:
    response = client.post("/v1/predict?top_k=10", files={"file": ("x.png", BLACK, "image/png")})
    assert response.status_code == 200, response.text
    scores = response.json()["predictions"][0]["top_k"]
    assert len(scores) == 10
    assert sum(c["probability"] for c in scores) == pytest.approx(1.0, abs=1e-4)


def test_json_base64_batch(client: TestClient) -> None:
    images = [
        base64.b64encode(BLACK).decode(),
        "data:image/png;base64," + base64.b64encode(WHITE).decode(),
    ]
    response = client.post("/v1/predict", json={"images": images, "top_k": 1})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["predictions"]) == 2
    assert all(len(p["top_k"]) == 1 and p["filename"] is None for p in body["predictions"])


def test_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/livez", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"


def _image(mode: str, size: tuple[int, int], fmt: str) -> bytes:
    buffer = io.BytesIO()
    if mode in ("I", "F", "I;16"):
        data = (np.arange(size[0] * size[1]).reshape(size[1], size[0]) % 300).astype(
            {"I": np.int32, "F": np.float32, "I;16": np.uint16}[mode]
        )
        image = Image.fromarray(data, mode=mode) if mode != "I;16" else Image.fromarray(data)
    elif mode == "P":
        image = Image.new("RGB", size, (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)
    else:
        image = Image.new(mode, size)
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("mode", "size", "fmt"),
    [
        ("1", (8, 8), "PNG"),
        ("L", (1, 1), "PNG"),
        ("LA", (30, 7), "PNG"),
        ("P", (64, 64), "PNG"),
        ("P", (17, 5), "GIF"),
        ("RGB", (640, 480), "JPEG"),
        ("RGBA", (28, 28), "PNG"),
        ("RGBA", (28, 28), "WEBP"),
        ("CMYK", (20, 20), "JPEG"),
        ("CMYK", (20, 20), "TIFF"),
        ("I", (9, 9), "TIFF"),
        ("I;16", (12, 3), "PNG"),
        ("F", (5, 40), "TIFF"),
        ("RGB", (3000, 2), "BMP"),
    ],
)
def test_any_mode_and_size_works(client: TestClient, mode: str, size: tuple[int, int], fmt: str) -> None:
    response = client.post("/v1/predict", files={"files": (f"x.{fmt.lower()}", _image(mode, size, fmt))})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"][0]["top_k"]) == 3
