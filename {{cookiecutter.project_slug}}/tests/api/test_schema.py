"""The OpenAPI schema documents every response, and schemathesis finds no 5xx."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from {{ cookiecutter.package_name }}.serve import Settings

from .support import running_client


def test_openapi_documents_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    predict = schema["paths"]["/v1/predict"]["post"]
    assert set(predict["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    for status in ("200", "400", "413", "415", "422", "503", "504"):
        assert status in predict["responses"], status
    error_ref = predict["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert error_ref.endswith("/ErrorResponse")
    assert predict["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PredictResponse"
    )
    v2 = {"/v2", "/v2/health/live", "/v2/health/ready"}
    for model in ("/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}"):
        v2 |= {model, f"{model}/ready", f"{model}/infer"}
    assert set(schema["paths"]) == {"/livez", "/readyz", "/metrics", "/v1/model", "/v1/predict", *v2}
    infer = schema["paths"]["/v2/models/{model_name}/infer"]["post"]
    assert set(infer["requestBody"]["content"]) == {"application/json", "application/octet-stream"}
    assert infer["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorV2")


def test_every_reference_in_the_openapi_document_resolves(client: TestClient) -> None:
    """A dangling $ref makes clients and fuzzers skip what it describes (schemathesis skipped
    every /v2 infer body while its models' refs pointed at absent components)."""
    document = client.get("/openapi.json").json()
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs, "the document has no references at all"
    for ref in refs:
        assert ref.startswith("#/"), ref
        target: Any = document
        for part in ref[2:].split("/"):
            assert isinstance(target, dict) and part in target, f"{ref} does not resolve"
            target = target[part]
    infer = document["paths"]["/v2/models/{model_name}/infer"]["post"]["requestBody"]["content"]
    assert infer["application/json"]["schema"]["properties"]["inputs"]["items"]["properties"]["shape"]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_schemathesis_finds_no_server_error(
    make_settings: Callable[..., Settings], mode: GenerationMode
) -> None:
    with running_client(make_settings(max_batch=4)) as client:  # lifespan on: the model is loaded
        api = schemathesis.openapi.from_asgi("/openapi.json", client.app)

        @given(case=api.as_strategy(mode))
        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(checks=[schemathesis.checks.not_a_server_error])

        check()
