"""Every class of bad input gets a 4xx with a JSON error that says what to fix."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from {{ cookiecutter.package_name }}.serve import Settings

from .support import BLACK, running_client, write_model


def assert_error(response: object, status: int, code: str) -> dict[str, str]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/json")  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code
    assert len(error["message"]) > 20
    return error


def files(*items: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{i}.png", data, "image/png")) for i, data in enumerate(items)]


def test_not_an_image(client: TestClient) -> None:
    error = assert_error(client.post("/v1/predict", files=files(b"hello, not an image")), 400, "not_an_image")
    assert "PNG" in error["message"]


def test_truncated_image(client: TestClient) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="JPEG")
    truncated = buffer.getvalue()[:200]
    assert_error(client.post("/v1/predict", files=files(truncated)), 400, "corrupted_image")
    png = buffer = io.BytesIO()
    Image.effect_noise((64, 64), 50).save(png, format="PNG")
    assert_error(client.post("/v1/predict", files=files(png.getvalue()[:-60])), 400, "corrupted_image")


def test_empty_file(client: TestClient) -> None:
    assert_error(client.post("/v1/predict", files=files(b"")), 400, "empty_image")


def test_empty_body(client: TestClient) -> None:
    response = client.post("/v1/predict", content=b"", headers={"content-type": "application/json"})
    assert_error(response, 400, "empty_body")
    assert_error(client.post("/v1/predict"), 400, "empty_body")


def test_no_files(client: TestClient) -> None:
    error = assert_error(
        client.post("/v1/predict", data={"other": "x"}, files={"wrong": ("a.png", BLACK)}),
        400,
        "no_files",
    )
    assert "other" in error["message"] and "wrong" in error["message"]


def test_text_field_instead_of_file(client: TestClient) -> None:
    response = client.post("/v1/predict", data={"files": "abc"}, files={"file": ("a.png", BLACK)})
    assert_error(response, 400, "not_a_file")


def test_invalid_multipart(client: TestClient) -> None:
    response = client.post("/v1/predict", content=b"xxxx", headers={"content-type": "multipart/form-data"})
    assert_error(response, 400, "invalid_multipart")


def test_invalid_base64(client: TestClient) -> None:
    error = assert_error(client.post("/v1/predict", json={"images": ["not base64!!"]}), 400, "invalid_base64")
    assert "images[0]" in error["message"]


def test_base64_of_non_image(client: TestClient) -> None:
    payload = {"images": [base64.b64encode(b"plain text").decode()]}
    assert_error(client.post("/v1/predict", json=payload), 400, "not_an_image")


def test_invalid_json(client: TestClient) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000  # nested deeper than the JSON parser recurses
    for body in (b"{nope", deep, b'{"images": ' + deep + b"}"):
        response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})
        assert_error(response, 400, "invalid_json")
    assert_error(client.post("/v1/predict", json={"pictures": []}), 422, "invalid_request")
    assert_error(client.post("/v1/predict", json=["a"]), 422, "invalid_request")
    assert_error(client.post("/v1/predict", json={"images": []}), 400, "no_images")


def test_wrong_content_type(client: TestClient) -> None:
    response = client.post("/v1/predict", content=BLACK, headers={"content-type": "image/png"})
    error = assert_error(response, 415, "unsupported_media_type")
    assert "multipart/form-data" in error["message"]
    response = client.post("/v1/predict", data={"a": "b"})  # urlencoded form
    assert_error(response, 415, "unsupported_media_type")


@pytest.mark.parametrize("query", ["top_k=0", "top_k=-1", "top_k=1001", "top_k=abc"])
def test_top_k_query_out_of_range(client: TestClient, query: str) -> None:
    assert_error(client.post(f"/v1/predict?{query}", files=files(BLACK)), 422, "invalid_request")


def test_top_k_over_class_count(client: TestClient) -> None:
    error = assert_error(client.post("/v1/predict?top_k=11", files=files(BLACK)), 422, "top_k_out_of_range")
    assert "10 classes" in error["message"]
    payload = {"images": [base64.b64encode(BLACK).decode()], "top_k": 0}
    assert_error(client.post("/v1/predict", json=payload), 422, "invalid_request")


def test_too_many_images(make_settings: Callable[..., Settings]) -> None:
    with running_client(make_settings(max_batch=2)) as client:
        assert client.post("/v1/predict", files=files(BLACK, BLACK)).status_code == 200
        error = assert_error(
            client.post("/v1/predict", files=files(BLACK, BLACK, BLACK)), 400, "too_many_images"
        )
        assert "MAX_BATCH" in error["message"]
        payload = {"images": [base64.b64encode(BLACK).decode()] * 3}
        assert_error(client.post("/v1/predict", json=payload), 400, "too_many_images")
        assert_error(client.post("/v1/predict", files=files(*[BLACK] * 20)), 400, "too_many_images")


def test_decompression_bomb(make_settings: Callable[..., Settings]) -> None:
    buffer = io.BytesIO()
    Image.new("1", (5000, 5000)).save(buffer, format="PNG")  # a few KB, 25 Mpixels
    with running_client(make_settings(max_image_pixels=1_000_000)) as client:
        error = assert_error(
            client.post("/v1/predict", files=files(buffer.getvalue())), 413, "image_too_large"
        )
        assert "MAX_IMAGE_PIXELS" in error["message"]
    buffer = io.BytesIO()
    Image.new("1", (1500, 1000)).save(buffer, format="PNG")  # between 1x and 2x the limit
    with running_client(make_settings(max_image_pixels=1_000_000)) as client:
        assert_error(client.post("/v1/predict", files=files(buffer.getvalue())), 413, "image_too_large")


def test_body_over_limit_by_content_length(make_settings: Callable[..., Settings]) -> None:
    with running_client(make_settings(max_body_bytes=2048)) as client:
        response = client.post("/v1/predict", files=files(b"x" * 4096))
        error = assert_error(response, 413, "body_too_large")
        assert "MAX_BODY_BYTES" in error["message"]


def test_unknown_route_and_method_are_json(client: TestClient) -> None:
    assert_error(client.get("/nope"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")


def test_unexpected_error_is_json_500_without_internals(
    make_settings: Callable[..., Settings], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    bad = write_model(tmp_path / "nan-model", "nan", nan_when_bright=True)
    with running_client(make_settings(model_dir=bad)) as client:
        assert client.post("/v1/predict", files=files(BLACK)).status_code == 200
        white = io.BytesIO()
        Image.new("L", (8, 8), 255).save(white, format="PNG")
        response = client.post(
            "/v1/predict", files=files(white.getvalue()), headers={"X-Request-ID": "req-500"}
        )
        error = assert_error(response, 500, "internal_error")
        assert "non-finite" not in error["message"] and "Traceback" not in response.text
        # a 500 is answered like every other response: it can be traced, and is never sniffed
        assert response.headers["x-request-id"] == "req-500"
        assert response.headers["x-content-type-options"] == "nosniff"
