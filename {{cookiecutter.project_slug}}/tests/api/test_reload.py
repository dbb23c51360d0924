"""Hot reload: admin endpoint, manifest polling; in-flight requests keep the old model."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from {{ cookiecutter.package_name }}.serve import Settings

from .support import BLACK, WHITE, LiveServer, running_client, wait_ready, write_model

TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_admin_reload_swaps_model(make_settings: Callable[..., Settings], model_dir: Path) -> None:
    with running_client(make_settings(admin_token=TOKEN)) as client:
        before = client.post("/v1/predict", files={"files": ("a.png", BLACK)}).json()
        assert before["model_version"] == "v1"
        write_model(model_dir, "v2", seed=1)
        assert client.get("/readyz").json()["model_version"] == "v1"  # no reload without a trigger
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "model_version": "v2",
            "previous_model_version": "v1",
            "swapped": True,
        }
        after = client.post("/v1/predict", files={"files": ("a.png", BLACK)}).json()
        assert after["model_version"] == "v2"
        assert after["predictions"] != before["predictions"]  # other weights
        assert client.get("/v1/model").json()["metrics"]["seed"] == 1
        metrics = client.get("/metrics").text
        assert 'model_info{framework="sklearn",model_version="v2"} 1.0' in metrics
        assert 'model_version="v1"' not in metrics


def test_admin_reload_guarded(client: TestClient, make_settings: Callable[..., Settings]) -> None:
    assert client.post("/admin/reload", headers=AUTH).status_code == 404  # no ADMIN_TOKEN: no endpoint
    with running_client(make_settings(admin_token=TOKEN)) as guarded:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = guarded.post("/admin/reload", headers=headers)
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "forbidden"


def test_failed_reload_keeps_serving_old_model(
    make_settings: Callable[..., Settings], model_dir: Path
) -> None:
    with running_client(make_settings(admin_token=TOKEN)) as client:
        (model_dir / "model.onnx").write_bytes(b"garbage")
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "reload_failed"
        assert client.get("/readyz").json()["model_version"] == "v1"
        assert client.post("/v1/predict", files={"files": ("a.png", BLACK)}).status_code == 200
        assert 'model_reloads_total{result="failure"} 1.0' in client.get("/metrics").text


def test_poll_reloads_on_manifest_change(make_settings: Callable[..., Settings], model_dir: Path) -> None:
    with running_client(make_settings(model_poll_seconds=0.05)) as client:
        write_model(model_dir, "v2", seed=1)
        deadline = time.monotonic() + 10
        while client.get("/readyz").json().get("model_version") != "v2":
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_in_flight_request_finishes_on_old_model(
    live_server: Callable[..., LiveServer], tmp_path: Path, slow_k: float
) -> None:
    model_dir = write_model(tmp_path / "current", "old-slow", slow_k=slow_k)
    with live_server(model_dir=model_dir, admin_token=TOKEN) as server, server.client() as client:
        wait_ready(client)
        results: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: results.append(client.post("/v1/predict", files={"files": ("w.png", WHITE)}))
        )
        slow.start()
        time.sleep(0.3)
        write_model(model_dir, "new", seed=2)
        assert client.post("/admin/reload", headers=AUTH).json()["model_version"] == "new"
        assert client.post("/v1/predict", files={"files": ("w.png", WHITE)}).json()["model_version"] == "new"
        slow.join()
        assert results[0].status_code == 200
        assert results[0].json()["model_version"] == "old-slow"


@pytest.mark.parametrize(
    ("file", "content"),
    [
        ("manifest.json", "[]"),
        ("manifest.json", b"\xff\xfe"),
        ("metrics.json", "[]"),
        ("labels.json", '{"a": 1}'),
        ("manifest.json", lambda manifest: {**manifest, "model_version": 3}),
        (
            "manifest.json",
            lambda manifest: {**manifest, "preprocessing": {**manifest["preprocessing"], "size": "8"}},
        ),
    ],
    ids=["manifest-list", "manifest-not-utf8", "metrics-list", "labels-object", "version-int", "size-text"],
)
def test_a_broken_model_dir_is_503_then_a_fixed_one_is_served(
    make_settings: Callable[..., Settings], tmp_path: Path, file: str, content: object
) -> None:
    """From start-up on a broken directory: /readyz and /admin/reload answer 503 (never 500)
    naming no internals, and the poller still serves the directory once it is fixed."""
    model_dir = write_model(tmp_path / "current", "fixed")
    good = (model_dir / file).read_bytes()
    if callable(content):
        content = json.dumps(content(json.loads(good)))
    (model_dir / file).write_bytes(content if isinstance(content, bytes) else str(content).encode())
    settings = make_settings(model_dir=model_dir, admin_token=TOKEN, model_poll_seconds=0.05)
    with running_client(settings, ready=False) as client:
        time.sleep(0.3)
        for response in (
            client.get("/readyz"),
            client.post("/admin/reload", headers=AUTH),
            client.get("/v1/model"),
        ):
            assert response.status_code == 503, response.text
            assert str(tmp_path) not in response.text
        (model_dir / file).write_bytes(good)
        (model_dir / "manifest.json").touch()
        wait_ready(client, timeout=10)
        assert client.get("/v1/model").json()["model_version"] == "fixed"
