"""The Open Inference Protocol (KServe v2) routes: health, metadata, infer in JSON and binary.

Bodies are built as the protocol documents them (the binary tensor data extension too);
the harness's Docker tests add a round trip with Triton's own client (tritonclient).
"""

from __future__ import annotations

import base64
import io
import json
import struct
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from {{ cookiecutter.package_name }}.data import preprocess_image
from {{ cookiecutter.package_name }}.serve import Settings

from .support import BLACK, LABELS, N_FEATURES, PREPROCESSING, WHITE, image_bytes, running_client

HEADER = "Inference-Header-Content-Length"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(max_batch=4)


@pytest.fixture
def v2(settings: Settings) -> Iterator[TestClient]:
    with running_client(settings) as client:
        yield client


def infer_url(settings: Settings) -> str:
    return f"/v2/models/{settings.model_name}/infer"


def v1_probabilities(client: TestClient, png: bytes) -> dict[str, float]:
    answer = client.post("/v1/predict", files={"files": ("x.png", png)}, params={"top_k": len(LABELS)})
    return {score["label"]: score["probability"] for score in answer.json()["predictions"][0]["top_k"]}


def pixels(png: bytes) -> list[float]:
    """The preprocessed input of the test model for an image file."""
    return preprocess_image(Image.open(io.BytesIO(png)), PREPROCESSING).tolist()


def test_health_and_metadata(v2: TestClient, settings: Settings) -> None:
    assert v2.get("/v2/health/live").json() == {"live": True}
    assert v2.get("/v2/health/ready").json() == {"ready": True}
    server = v2.get("/v2").json()
    assert server["extensions"] == ["binary_tensor_data"]
    name = settings.model_name
    assert v2.get(f"/v2/models/{name}/ready").json() == {"name": name, "ready": True}
    meta = v2.get(f"/v2/models/{name}").json()
    assert meta["versions"] == ["v1"]
    assert {(t["name"], t["datatype"], tuple(t["shape"])) for t in meta["inputs"]} == {
        ("pixels", "FP32", (-1, N_FEATURES)),
        ("image", "BYTES", (-1,)),
    }
    assert {(t["name"], t["datatype"], tuple(t["shape"])) for t in meta["outputs"]} == {
        ("probabilities", "FP32", (-1, len(LABELS))),
        ("label", "BYTES", (-1,)),
    }
    assert v2.get(f"/v2/models/{name}/versions/v1").status_code == 200


def test_fp32_tensor_in_json_gives_the_v1_probabilities(v2: TestClient, settings: Settings) -> None:
    body = {
        "id": "req-1",
        "inputs": [
            {
                "name": "pixels",
                "shape": [2, N_FEATURES],
                "datatype": "FP32",
                "data": [pixels(BLACK), pixels(WHITE)],
            }
        ],
    }
    response = v2.post(infer_url(settings), json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "req-1" and answer["model_name"] == settings.model_name
    outputs = {output["name"]: output for output in answer["outputs"]}
    probs = np.array(outputs["probabilities"]["data"]).reshape(outputs["probabilities"]["shape"])
    assert probs.shape == (2, len(LABELS))
    for row, png in zip(probs, (BLACK, WHITE), strict=True):
        expected = v1_probabilities(v2, png)
        assert np.allclose(row, [expected[label] for label in LABELS], atol=1e-6)
    assert outputs["label"]["data"] == [LABELS[int(np.argmax(row))] for row in probs]


def test_images_as_base64_bytes_in_json(v2: TestClient, settings: Settings) -> None:
    images = [
        base64.b64encode(png).decode() for png in (BLACK, image_bytes("RGB", (32, 20), (200, 10, 10), "JPEG"))
    ]
    body = {
        "inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": images}],
        "outputs": [{"name": "label"}],
    }
    answer = v2.post(infer_url(settings), json=body).json()
    assert [output["name"] for output in answer["outputs"]] == ["label"]
    best = max(v1_probabilities(v2, BLACK).items(), key=lambda item: item[1])[0]
    assert answer["outputs"][0]["data"][0] == best


def test_binary_tensor_data_extension(v2: TestClient, settings: Settings) -> None:
    """Binary in (BYTES, length-prefixed) and out (FP32 little-endian), as Triton's clients send."""
    tensor = b"".join(struct.pack("<I", len(png)) + png for png in (BLACK, WHITE))
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "image",
                    "shape": [2],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(tensor)},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    response = v2.post(
        infer_url(settings),
        content=header + tensor,
        headers={HEADER: str(len(header)), "Content-Type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    size = int(response.headers[HEADER])
    meta = json.loads(response.content[:size])
    (output,) = meta["outputs"]
    probs = np.frombuffer(response.content[size:], dtype="<f4").reshape(output["shape"])
    assert output["parameters"]["binary_data_size"] == probs.nbytes
    expected = v1_probabilities(v2, WHITE)
    assert np.allclose(probs[1], [expected[label] for label in LABELS], atol=1e-6)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"inputs": []}, "inputs"),
        (
            {"inputs": [{"name": "nope", "shape": [1], "datatype": "FP32", "data": [1]}]},
            "unknown input 'nope'",
        ),
        (
            {"inputs": [{"name": "pixels", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
            "expected [1, 64]",
        ),
        ({"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "INT8", "data": [0] * 64}]}, "is FP32"),
        (
            {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": [0] * 63}]},
            "63 values",
        ),
        (
            {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": ["a"] * 64}]},
            "numbers",
        ),
        (
            {"inputs": [{"name": "pixels", "shape": [5, 64], "datatype": "FP32", "data": [0] * 320}]},
            "MAX_BATCH",
        ),
        (
            {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": [3e38] * 64}]},
            "within",
        ),
        (
            {"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": [-1e6, *[0] * 63]}]},
            "within",
        ),
        (  # an integer no float holds
            {
                "inputs": [
                    {"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": [10**400, *[0] * 63]}
                ]
            },
            "numbers",
        ),
        ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["%%%"]}]}, "base64"),
        ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [1]}]}, "base64 string"),
        ({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES"}]}, "no data"),
        (
            {
                "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": ["AA=="]}],
                "outputs": [{"name": "x"}],
            },
            "unknown output 'x'",
        ),
    ],
)
def test_malformed_requests_get_400_in_the_protocols_error_shape(
    v2: TestClient, settings: Settings, body: dict, fragment: str
) -> None:
    response = v2.post(infer_url(settings), json=body)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error"}
    assert fragment in response.json()["error"]


@pytest.mark.parametrize("where", ["body", "data"])
def test_json_nested_deeper_than_the_parser_recurses_gets_400(
    v2: TestClient, settings: Settings, where: str
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    tensor = json.dumps({"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": "DEEP"})
    body = deep if where == "body" else json.dumps({"inputs": ["TENSOR"]}).replace('"TENSOR"', tensor)
    body = body.replace('"DEEP"', deep)

    for headers in ({"content-type": "application/json"}, {HEADER: str(len(body))}):
        response = v2.post(infer_url(settings), content=body.encode(), headers=headers)
        assert response.status_code == 400, response.text
        assert set(response.json()) == {"error"}


def test_not_an_image_unknown_model_and_version(v2: TestClient, settings: Settings) -> None:
    body = {
        "inputs": [
            {"name": "image", "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(b"text").decode()]}
        ]
    }
    response = v2.post(infer_url(settings), json=body)
    assert response.status_code == 400 and isinstance(response.json()["error"], str)
    assert v2.post("/v2/models/other/infer", json=body).status_code == 404
    missing = v2.get(f"/v2/models/{settings.model_name}/versions/v9")
    assert missing.status_code == 404
    assert "v9" in missing.json()["error"]
    garbage = v2.post(infer_url(settings), content=b"\xff\x00", headers={HEADER: "99"})
    assert garbage.status_code == 400


def test_not_ready_is_503_in_the_protocols_error_shape(
    make_settings: Callable[..., Settings], tmp_path
) -> None:
    with running_client(make_settings(model_dir=tmp_path / "missing"), ready=False) as client:
        for path in ("/v2/health/ready", f"/v2/models/{Settings().model_name}/ready"):
            response = client.get(path)
            assert response.status_code == 503
            assert set(response.json()) == {"error"}
        assert client.get("/v2/health/live").status_code == 200
