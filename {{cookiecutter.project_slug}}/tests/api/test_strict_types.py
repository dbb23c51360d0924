"""A client's JSON and query values are taken as typed: every typed field of every request
(/v1 JSON and query, /v2 infer body, parameters and header) refuses a lookalike of another
type ("1", 1.0 or true for a number, "false" for a boolean, 1_0 for a length) with a 4xx
naming the field, and the correctly typed request still answers 200."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve import Settings

from .support import BLACK, N_FEATURES, running_client, write_model

HEADER = "Inference-Header-Content-Length"
IMAGE = base64.b64encode(BLACK).decode()


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    model_dir = write_model(tmp_path_factory.mktemp("model") / "current", "v1")
    with running_client(Settings(model_dir=model_dir, model_retry_seconds=0.05, ort_threads=1)) as client:
        yield client


def _v2_url(client: TestClient) -> str:
    return f"/v2/models/{client.app.state.server.settings.model_name}/infer"


V2_IMAGES = {
    "id": "request-1",
    "parameters": {"binary_data_output": False},
    "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [IMAGE]}],
    "outputs": [{"name": "label", "parameters": {"binary_data": False}}],
}
V2_TENSOR = {
    "inputs": [{"name": "pixels", "shape": [1, N_FEATURES], "datatype": "FP32", "data": [0.0] * N_FEATURES}]
}

# (body, path to a field, the wrongly typed values a lax parser would accept)
V2_FIELDS: list[tuple[dict[str, Any], tuple[Any, ...], list[Any]]] = [
    (V2_IMAGES, ("id",), [1, True]),
    (V2_IMAGES, ("parameters", "binary_data_output"), ["false", "true", 0, 1, None]),
    (V2_IMAGES, ("inputs", 0, "name"), [1, True]),
    (V2_IMAGES, ("inputs", 0, "shape", 0), ["1", True, 1.0]),
    (V2_IMAGES, ("inputs", 0, "datatype"), [1]),
    (V2_IMAGES, ("outputs", 0, "name"), [1]),
    (V2_IMAGES, ("outputs", 0, "parameters", "binary_data"), ["false", "true", 0, 1]),
    (V2_TENSOR, ("inputs", 0, "shape", 0), ["1", True, 1.0]),
    (V2_TENSOR, ("inputs", 0, "shape", 1), [str(N_FEATURES), float(N_FEATURES)]),
]


def _with(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _cases() -> Iterator[Any]:
    for body, path, values in V2_FIELDS:
        for value in values:
            yield pytest.param(body, path, value, id=f"{'.'.join(map(str, path))}={json.dumps(value)}")


def test_the_correctly_typed_requests_answer_200(client: TestClient) -> None:
    for body in (V2_IMAGES, V2_TENSOR):
        assert client.post(_v2_url(client), json=body).status_code == 200
    assert client.post("/v1/predict", json={"images": [IMAGE], "top_k": 2}).status_code == 200
    assert (
        client.post("/v1/predict", files={"files": ("x.png", BLACK)}, params={"top_k": "3"}).status_code
        == 200
    )


@pytest.mark.parametrize(("body", "path", "value"), list(_cases()))
def test_v2_fields_refuse_values_of_another_type(
    client: TestClient, body: dict, path: tuple, value: Any
) -> None:
    response = client.post(_v2_url(client), json=_with(body, path, value))
    assert response.status_code == 400, response.text
    assert "error" in response.json()


@pytest.mark.parametrize("value", ["1_0", " 10", "+10", "0x10", "١٠"])
def test_v2_header_length_is_decimal_digits(client: TestClient, value: str) -> None:
    header = json.dumps(V2_IMAGES).encode()
    response = client.post(_v2_url(client), content=header, headers={HEADER: value.encode("utf-8")})
    assert response.status_code == 400, response.text
    assert HEADER in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"images": [IMAGE], "top_k": "2"},
        {"images": [IMAGE], "top_k": True},
        {"images": [IMAGE], "top_k": 2.0},
        {"images": [7]},
        {"images": IMAGE},
    ],
    ids=["top_k-string", "top_k-true", "top_k-float", "image-number", "images-string"],
)
def test_v1_json_fields_refuse_values_of_another_type(client: TestClient, body: dict) -> None:
    response = client.post("/v1/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_request"


@pytest.mark.parametrize("value", ["1_0", " 3", "+3", "3.0", "true"])
def test_v1_top_k_query_is_decimal_digits(client: TestClient, value: str) -> None:
    response = client.post("/v1/predict", files={"files": ("x.png", BLACK)}, params={"top_k": value})
    assert response.status_code == 422, response.text
    assert "top_k" in response.json()["error"]["message"]


def test_every_request_model_is_strict() -> None:
    """New request fields inherit the rule: the request models are declared strict."""
    from {{ cookiecutter.package_name }}.serve import protocol_v2, schemas

    for model in (
        protocol_v2.InferenceRequest,
        protocol_v2.RequestInput,
        protocol_v2.RequestOutput,
        schemas.PredictJsonRequest,
    ):
        assert model.model_config.get("strict") is True, model.__name__
