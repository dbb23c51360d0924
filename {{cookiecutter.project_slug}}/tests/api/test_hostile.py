"""Hostile input, fixed by kind: metric labels, nosniff, image formats and modes, pixel
budgets, error bodies without internals, load balancer retries."""

from __future__ import annotations

import io
import random
import shutil
import string
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from {{ cookiecutter.package_name }}.serve import Settings

from .support import BLACK, running_client, write_model

TOKEN = "s3cret-admin-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ALLOWED = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")


def files(*items: bytes) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (f"{i}.img", data, "application/octet-stream")) for i, data in enumerate(items)]


# ---------------------------------------------------------------- a. metric labels


def _hostile_requests(client: TestClient, rng: random.Random, count: int) -> set[str]:
    methods = set()
    for _ in range(count):
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        path = "/" + "/".join(
            "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))
            for _ in range(rng.randint(1, 3))
        )
        methods.add(method)
        client.request(method, rng.choice([path, "/v1/predict", "/livez"]))
    return methods


def _metric_lines(client: TestClient) -> list[str]:
    return [line for line in client.get("/metrics").text.splitlines() if line.startswith("http_")]


def test_metric_labels_stay_bounded_under_made_up_methods_and_paths(client: TestClient) -> None:
    rng = random.Random(1234)
    _hostile_requests(client, rng, 50)  # every label combination of the kind exists now
    client.get("/metrics")
    before = _metric_lines(client)
    methods = _hostile_requests(client, rng, 200)
    after = _metric_lines(client)
    assert len(after) == len(before)  # only counter values changed
    text = "\n".join(after)
    assert not any(f'method="{method}"' in text for method in methods)
    assert 'method="other"' in text and 'route="unmatched"' in text


# ------------------------------------------------------------------- b. nosniff


def test_every_response_has_nosniff(make_settings: Callable[..., Settings], tmp_path: Path) -> None:
    nan_model = write_model(tmp_path / "nan-model", "nan", nan_when_bright=True)
    white = io.BytesIO()
    Image.new("L", (8, 8), 255).save(white, format="PNG")
    with running_client(make_settings(model_dir=nan_model, max_body_bytes=2048)) as client:
        responses = {
            "ok": client.get("/livez"),
            "predict": client.post("/v1/predict", files=files(BLACK)),
            "metrics": client.get("/metrics"),
            "not found": client.get("/nope"),
            "method": client.get("/v1/predict"),
            "bad image": client.post("/v1/predict", files=files(b"not an image")),
            "validation": client.post("/v1/predict?top_k=abc", files=files(BLACK)),
            "body limit": client.post("/v1/predict", files=files(b"x" * 4096)),
            "internal": client.post("/v1/predict", files=files(white.getvalue())),
        }
        client.app.state.server.draining = True  # type: ignore[attr-defined]
        responses["draining"] = client.get("/readyz")
    assert responses["internal"].status_code == 500 and responses["draining"].status_code == 503
    for what, response in responses.items():
        assert response.headers.get("x-content-type-options") == "nosniff", what


# ------------------------------------------------------- c. image formats and modes


def _associated_alpha_tiff(mode: str) -> bytes:
    """A TIFF with premultiplied alpha (ExtraSamples=1), which Pillow opens as La/RGBa."""
    buffer = io.BytesIO()
    Image.new(mode, (8, 8), (90,) * len(mode)).save(buffer, format="TIFF")
    entry = b"\x52\x01\x03\x00\x01\x00\x00\x00\x02\x00"  # tag 338 (ExtraSamples) = 2 (unassociated)
    assert entry in buffer.getvalue()
    return buffer.getvalue().replace(entry, entry[:-2] + b"\x01\x00")


def _encode(fmt: str, mode: str) -> bytes:
    if fmt == "TIFF" and mode in ("La", "RGBa"):
        return _associated_alpha_tiff("LA" if mode == "La" else "RGBA")
    image = Image.new(mode, (8, 8))
    options: dict[str, object] = {}
    if mode == "P":
        image.putpalette([value for index in range(256) for value in (index, 255 - index, index // 2)])
        options["transparency"] = 3
    buffer = io.BytesIO()
    try:
        image.save(buffer, format=fmt, **options)
    except (OSError, KeyError, ValueError) as exc:
        pytest.skip(f"Pillow cannot write {mode} as {fmt}: {exc}")
    return buffer.getvalue()


IMAGE_CASES = [
    *[("PNG", mode) for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")],
    *[("JPEG", mode) for mode in ("L", "RGB", "CMYK")],
    *[("BMP", mode) for mode in ("1", "L", "P", "RGB")],
    *[("GIF", mode) for mode in ("L", "P", "RGB")],
    *[("WEBP", mode) for mode in ("L", "RGB", "RGBA")],
    *[
        ("TIFF", mode)
        for mode in ("1", "L", "LA", "La", "P", "RGB", "RGBA", "RGBa", "CMYK", "YCbCr", "LAB")
        + ("I;16", "I;16B", "I", "F")
    ],
    *[("ICO", "RGBA"), ("EPS", "RGB"), ("PDF", "RGB"), ("PPM", "RGB"), ("TGA", "RGB")],
    *[("PCX", "RGB"), ("SGI", "RGB"), ("QOI", "RGB"), ("DDS", "RGB"), ("IM", "RGB")],
    *[("JPEG2000", "RGB"), ("XBM", "1"), ("MSP", "1"), ("SPIDER", "F")],
]


@pytest.fixture(scope="module")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    model_dir = write_model(tmp_path_factory.mktemp("model") / "current", "v1")
    with running_client(Settings(model_dir=model_dir, model_retry_seconds=0.05, ort_threads=1)) as client:
        yield client


@pytest.mark.parametrize(("fmt", "mode"), IMAGE_CASES, ids=[f"{f}-{m}" for f, m in IMAGE_CASES])
def test_any_format_and_mode_is_200_or_4xx(shared_client: TestClient, fmt: str, mode: str) -> None:
    response = shared_client.post("/v1/predict", files=files(_encode(fmt, mode)))
    assert response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    if fmt in ALLOWED:
        assert response.status_code in (200, 422), response.text
    else:  # refused from its magic bytes before any Pillow plugin parses it
        assert response.status_code in (400, 415), response.text
        assert response.json()["error"]["code"] in ("unsupported_image_format", "not_an_image")


def test_format_outside_allow_list_is_415(shared_client: TestClient) -> None:
    for fmt in ("ICO", "PPM", "PCX", "SGI", "PDF"):
        response = shared_client.post(
            "/v1/predict", files=files(_encode(fmt, "RGB" if fmt != "ICO" else "RGBA"))
        )
        assert response.status_code == 415, (fmt, response.text)
        error = response.json()["error"]
        assert error["code"] == "unsupported_image_format" and "PNG" in error["message"]


# --------------------------------------------------------------- d. pixel budgets


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", size).save(buffer, format="PNG")
    return buffer.getvalue()


def test_request_pixel_budget_is_checked_from_headers(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(max_image_pixels=1_000_000, max_request_pixels=1_500_000)
    big = _png((1000, 1000))
    with running_client(settings) as client:
        assert client.post("/v1/predict", files=files(big)).status_code == 200
        response = client.post("/v1/predict", files=files(big, big))
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert error["code"] == "request_too_large" and "MAX_REQUEST_PIXELS" in error["message"]
        # Headers are checked before anything is decoded: a truncated second image does not matter.
        response = client.post("/v1/predict", files=files(big, big[:-40]))
        assert response.status_code == 413, response.text


# ---------------------------------------------------- e. no internals in error bodies


def _assert_plain(message: str, tmp_path: Path) -> None:
    assert str(tmp_path) not in message and "/tmp" not in message
    for leak in ("ONNX Runtime", "ONNXRuntimeError", "onnxruntime", "Traceback", "Errno", "INVALID_"):
        assert leak not in message, message


def _break_garbage(model_dir: Path) -> None:
    (model_dir / "model.onnx").write_bytes(b"garbage")


def _break_missing(model_dir: Path) -> None:
    shutil.rmtree(model_dir)


def _break_file(model_dir: Path) -> None:
    shutil.rmtree(model_dir)
    model_dir.write_bytes(b"not a directory")


def _break_manifest(model_dir: Path) -> None:
    (model_dir / "manifest.json").write_text("{not json")


def _break_output(model_dir: Path) -> None:
    manifest = (model_dir / "manifest.json").read_text()
    (model_dir / "manifest.json").write_text(manifest.replace('"probabilities"', '"nope"'))


@pytest.mark.parametrize(
    "breakage", [_break_garbage, _break_missing, _break_file, _break_manifest, _break_output]
)
def test_reload_of_bad_model_dir_is_503_in_plain_words(
    make_settings: Callable[..., Settings],
    model_dir: Path,
    tmp_path: Path,
    breakage: Callable[[Path], None],
) -> None:
    with running_client(make_settings(admin_token=TOKEN)) as client:
        breakage(model_dir)
        response = client.post("/admin/reload", headers=AUTH)
        assert response.status_code == 503, response.text
        error = response.json()["error"]
        assert error["code"] == "reload_failed" and "previous model" in error["message"]
        _assert_plain(error["message"], tmp_path)
        assert client.post("/v1/predict", files=files(BLACK)).status_code == 200


@pytest.mark.parametrize("breakage", [_break_garbage, _break_missing, _break_file, _break_output])
def test_model_not_ready_is_503_in_plain_words(
    make_settings: Callable[..., Settings],
    model_dir: Path,
    tmp_path: Path,
    breakage: Callable[[Path], None],
) -> None:
    breakage(model_dir)
    with running_client(make_settings(), ready=False) as client:
        for _ in range(100):
            response = client.get("/readyz")
            if "(" in response.json()["error"]["message"]:  # the first attempt has failed
                break
            client.get("/livez")
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "model_not_ready" and "not loaded" in error["message"]
        _assert_plain(error["message"], tmp_path)
