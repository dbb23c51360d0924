"""Liveness, readiness, model info, metrics and the Docker healthcheck."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve import Settings

from .support import BLACK, LABELS, LiveServer, package_env, running_client, wait_ready, write_model


def test_livez_and_readyz(client: TestClient) -> None:
    assert client.get("/livez").json() == {"status": "alive", "model_version": None}
    assert client.get("/readyz").json() == {"status": "ready", "model_version": "v1"}


def test_not_ready_until_model_appears_then_ready(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    missing = tmp_path / "later" / "current"
    with running_client(make_settings(model_dir=missing), ready=False) as client:
        assert client.get("/livez").status_code == 200
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["retry-after"]
        error = response.json()["error"]
        assert error["code"] == "model_not_ready"
        assert "missing" in error["message"]  # in plain words: no path, no library message
        assert str(tmp_path) not in error["message"] and "does not exist" not in error["message"]
        assert client.get("/v1/model").status_code == 503
        assert client.post("/v1/predict", files={"files": ("a.png", BLACK)}).status_code == 503
        write_model(missing, "late")  # training finishes while the server is up
        wait_ready(client)
        assert client.get("/readyz").json()["model_version"] == "late"
        assert client.post("/v1/predict", files={"files": ("a.png", BLACK)}).status_code == 200


def test_broken_model_dir_is_reported(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    broken = write_model(tmp_path / "broken", "b")
    (broken / "model.onnx").write_bytes(b"not onnx")
    with running_client(make_settings(model_dir=broken), ready=False) as client:
        time.sleep(0.2)
        error = client.get("/readyz").json()["error"]
        assert "not a valid ONNX model" in error["message"]
        assert "ONNX Runtime" not in error["message"] and str(tmp_path) not in error["message"]


def test_readyz_503_while_draining(client: TestClient) -> None:
    client.app.state.server.draining = True  # type: ignore[attr-defined]  # what SIGTERM sets (see test_process.py)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["error"]["code"] == "draining"
    assert client.get("/livez").status_code == 200


def test_model_info(client: TestClient) -> None:
    body = client.get("/v1/model").json()
    assert body["model_version"] == "v1"
    assert body["labels"] == LABELS
    assert body["metrics"]["accuracy"] == 0.9
    assert body["manifest"]["input_name"] == "pixels"
    assert body["manifest"]["preprocessing"]["size"] == [8, 8]
    assert body["loaded_at"]


def test_metrics(client: TestClient) -> None:
    client.post("/v1/predict", files=[("files", ("a.png", BLACK)), ("files", ("b.png", BLACK))])
    client.post("/v1/predict", files={"files": ("a.png", b"junk")})
    client.get("/no/such/path/123")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'http_requests_total{method="POST",route="/v1/predict",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/v1/predict",status="400"} 1.0' in text
    assert 'route="unmatched",status="404"' in text and "/no/such/path" not in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/predict"' in text
    assert "model_inference_duration_seconds_count 1.0" in text  # one batch; warm-up not counted
    assert 'model_inference_batch_size_bucket{le="2.0"} 2.0' in text
    assert 'model_info{framework="sklearn",model_version="v1"} 1.0' in text
    assert "model_ready 1.0" in text
    assert "http_requests_in_flight 1.0" in text  # the /metrics request itself
    assert "model_inferences_in_flight 0.0" in text
    assert 'model_reloads_total{result="success"} 1.0' in text


def test_noop_only_when_enabled(client: TestClient, make_settings: Callable[..., Settings]) -> None:
    assert client.get("/v1/noop").status_code == 404
    assert "/v1/noop" not in client.get("/openapi.json").json()["paths"]
    with running_client(make_settings(enable_noop=True)) as enabled:
        assert enabled.get("/v1/noop").json()["status"] == "ok"


def _healthcheck(port: int) -> int:
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}.serve.healthcheck"]
    env = package_env(PORT=str(port), HEALTHCHECK_TIMEOUT="2")
    return subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode


def test_healthcheck_command(live_server: Callable[..., LiveServer], tmp_path: Path) -> None:
    with live_server(model_dir=tmp_path / "missing") as server:
        assert _healthcheck(server.port) == 1  # up but not ready
    with live_server() as server:
        wait_ready(server.client())
        assert _healthcheck(server.port) == 0
    assert _healthcheck(server.port) == 1  # nothing listening
