"""Helpers for the serving API tests: real ONNX models built with onnx.helper, servers, images."""

from __future__ import annotations

import contextlib
import io
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import onnx
import uvicorn
from fastapi.testclient import TestClient
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

import {{ cookiecutter.package_name }} as package
from {{ cookiecutter.package_name }}.artifacts import Manifest, Preprocessing, write_model_dir
from {{ cookiecutter.package_name }}.serve import Settings, create_app

LABELS = [str(digit) for digit in range(10)]
N_FEATURES = 64
# How an image becomes the test model's input: 8x8 grayscale, scaled to 0..1, flattened.
PREPROCESSING = Preprocessing(color_mode="L", size=(8, 8), scale=1 / 255, layout="NF")
SLOW_SECONDS = 1.5  # how long a white 8x8 image takes through the "slow" model


def build_onnx(seed: int = 0, slow_k: float = 0.0, nan_when_bright: bool = False) -> bytes:
    """A linear layer + softmax over 64 pixel features.

    slow_k > 0 adds a Loop whose trip count is slow_k * sum(pixels): a black image is
    instant, a white one takes a while; nan_when_bright makes bright images give NaN.
    """
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(size=(N_FEATURES, len(LABELS))).astype(np.float32), "W"),
        numpy_helper.from_array(rng.normal(size=(len(LABELS),)).astype(np.float32), "B"),
        numpy_helper.from_array(np.array(0.0, np.float32), "zero"),
    ]
    nodes = [
        helper.make_node("MatMul", ["pixels", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["logits"]),
        helper.make_node("ReduceSum", ["pixels"], ["total"], keepdims=0),
    ]
    logits = "logits"
    if slow_k:
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                helper.make_node("MatMul", ["v_in", "eye"], ["v_out"]),
            ],
            "spin",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1, 16]),
            ],
            [
                helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1, 16]),
            ],
            [numpy_helper.from_array(np.eye(16, dtype=np.float32), "eye")],
        )
        inits += [
            numpy_helper.from_array(np.array(slow_k, np.float32), "k"),
            numpy_helper.from_array(np.ones((1, 16), np.float32), "v0"),
            helper.make_tensor("cond", TensorProto.BOOL, [], [True]),
        ]
        nodes += [
            helper.make_node("Mul", ["total", "k"], ["trips_f"]),
            helper.make_node("Cast", ["trips_f"], ["trips"], to=TensorProto.INT64),
            helper.make_node("Loop", ["trips", "cond", "v0"], ["v_final"], body=body),
            helper.make_node("ReduceSum", ["v_final"], ["v_sum"], keepdims=0),
            helper.make_node("Mul", ["v_sum", "zero"], ["nothing"]),
            helper.make_node("Add", [logits, "nothing"], ["slow_logits"]),
        ]
        logits = "slow_logits"
    if nan_when_bright:
        inits.append(numpy_helper.from_array(np.array(32.0, np.float32), "half"))
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "row_axes"))
        nodes += [
            # per example: only the rows whose pixels add up to more than 32 become NaN
            helper.make_node("ReduceSum", ["pixels", "row_axes"], ["row_total"], keepdims=1),
            helper.make_node("Sub", ["half", "row_total"], ["headroom"]),
            helper.make_node("Sqrt", ["headroom"], ["root"]),  # NaN once a row's total > 32
            helper.make_node("Mul", ["root", "zero"], ["nan_or_zero"]),
            helper.make_node("Add", [logits, "nan_or_zero"], ["nan_logits"]),
        ]
        logits = "nan_logits"
    nodes.append(helper.make_node("Softmax", [logits], ["probabilities"], axis=1))
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [None, N_FEATURES])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, len(LABELS)])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_model(
    target: Path,
    version: str = "v1",
    seed: int = 0,
    slow_k: float = 0.0,
    nan_when_bright: bool = False,
) -> Path:
    manifest = Manifest(
        framework="sklearn",
        framework_version="test",
        input_name="pixels",
        input_shape=[None, N_FEATURES],
        output_name="probabilities",
        preprocessing=PREPROCESSING,
        data_sha256="0" * 64,
        created_at="2026-11-25T00:00:00+00:00",
        model_version=version,
    )
    return write_model_dir(
        target,
        build_onnx(seed, slow_k, nan_when_bright),
        LABELS,
        {"accuracy": 0.9, "seed": seed},
        manifest,
    )


def image_bytes(
    mode: str = "L",
    size: tuple[int, int] = (8, 8),
    color: int | tuple[int, ...] = 0,
    fmt: str = "PNG",
) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, format=fmt)
    return buffer.getvalue()


BLACK = image_bytes(color=0)
WHITE = image_bytes(color=255)


def wait_ready(client: TestClient | httpx.Client, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError("server did not become ready")


@contextlib.contextmanager
def running_client(settings: Settings, ready: bool = True) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        if ready:
            wait_ready(client)
        yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A real uvicorn server in a thread, for tests that need real sockets and concurrency."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.settings = replace(settings, port=self.port)
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise AssertionError("uvicorn did not start")
            time.sleep(0.01)
        if self.settings.model_dir.is_dir():
            # The model loads in the background; on a busy machine that takes a while, and a
            # test about limits must not see the 503 of a server that is still warming up.
            wait_http_ready(self.url, timeout=60)
        return self

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


def package_env(**env: str) -> dict[str, str]:
    """Environment for a `python -m <package>.serve` subprocess that imports this package."""
    src = str(Path(package.__file__).resolve().parents[1])
    paths = [src, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "LOG_LEVEL": "info", **env}


@contextlib.contextmanager
def server_process(model_dir: Path, **env: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m <package>.serve` on a free loopback port with ``env``: (process, base URL).
    Killed on the way out if the test left it running."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", f"{package.__name__}.serve"],
        env=package_env(PORT=str(port), HOST="127.0.0.1", MODEL_DIR=str(model_dir), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_http_ready(url: str, process: subprocess.Popen[str] | None = None, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"server exited with {process.returncode}: {stderr}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"{url} did not become ready")
