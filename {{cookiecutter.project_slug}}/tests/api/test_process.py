"""The real server process: `python -m <package>.serve`, signals, exit codes, JSON logs."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import {{ cookiecutter.package_name }} as package

from .support import (
    BLACK,
    WHITE,
    free_port,
    package_env,
    server_process,
    wait_http_ready,
    write_model,
)


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_sigterm_drains_in_flight_request_and_exits_0(tmp_path: Path, slow_k: float) -> None:
    model_dir = write_model(tmp_path / "current", "slow", slow_k=slow_k)
    with server_process(model_dir) as (process, url):
        wait_http_ready(url, process)
        results: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: results.append(
                httpx.post(f"{url}/v1/predict", files={"files": ("w.png", WHITE)}, timeout=30)
            )
        )
        request.start()
        time.sleep(0.4)  # the slow inference is running now
        process.send_signal(signal.SIGTERM)
        request.join(30)
        _, stderr = process.communicate(timeout=30)
    assert results and results[0].status_code == 200, results
    assert results[0].json()["model_version"] == "slow"
    assert process.returncode == 0, stderr
    logs = _json_lines(stderr)
    assert any("readiness is now 503" in entry["message"] for entry in logs)
    access = [entry for entry in logs if entry["logger"].endswith(".access")]
    predict = next(entry for entry in access if entry["path"] == "/v1/predict")
    assert predict["status"] == 200 and predict["method"] == "POST"
    assert predict["duration_ms"] > 500 and predict["request_id"] and predict["client"]
    assert not any(entry["logger"] == "uvicorn.access" for entry in logs)


def test_sigterm_while_a_timed_out_model_run_goes_on_waits_for_it_and_exits_0(
    tmp_path: Path, slow_k: float
) -> None:
    """A model run cannot be interrupted: the process must not exit in the middle of one
    (ONNX Runtime's threads can then abort it: "terminate called without an active exception")."""
    model_dir = write_model(tmp_path / "current", "slow", slow_k=slow_k)
    with server_process(model_dir, REQUEST_TIMEOUT="0.2") as (process, url):
        wait_http_ready(url, process)
        answer = httpx.post(f"{url}/v1/predict", files={"files": ("w.png", WHITE)}, timeout=30)
        assert answer.status_code == 504, answer.text  # the run itself goes on (about 1.5 s)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    # Exiting in the middle of the run was SIGABRT (-6), every time.
    assert process.returncode == 0, stderr
    assert "terminate called" not in stderr


def test_sighup_reloads_model(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "current", "v1")
    with server_process(model_dir) as (process, url):
        wait_http_ready(url, process)
        write_model(model_dir, "v2", seed=3)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while httpx.get(f"{url}/readyz").json().get("model_version") != "v2":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        response = httpx.post(f"{url}/v1/predict", files={"files": ("b.png", BLACK)})
        assert response.json()["model_version"] == "v2"
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert process.returncode == 0


def test_missing_model_dir_starts_not_ready(tmp_path: Path) -> None:
    with server_process(tmp_path / "none") as (process, url):
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/livez").status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.05)
        response = httpx.get(f"{url}/readyz")
        assert response.status_code == 503
        message = response.json()["error"]["message"]
        assert "missing" in message and str(tmp_path) not in message
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert any(  # the detail the client does not see is in the log
        "model not loaded" in entry["message"] and "does not exist" in entry["message"]
        for entry in _json_lines(stderr)
    )


def test_invalid_setting_exits_2_with_one_clear_line() -> None:
    for name, value, rule in [
        ("MAX_BATCH", "abc", "integer from 1 to 1024"),
        ("PORT", "70000", "integer from 1 to 65535"),
        ("REQUEST_TIMEOUT", "-1", "number from"),
        ("LOG_LEVEL", "loud", "one of"),
        ("ENABLE_NOOP", "maybe", "boolean"),
        ("WORKERS", "4", "PROMETHEUS_MULTIPROC_DIR"),
    ]:
        result = subprocess.run(
            [sys.executable, "-m", f"{package.__name__}.serve"],
            env=package_env(**{name: value}),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, (name, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert name in lines[0] and repr(value) in lines[0] and rule in lines[0]


def test_flags_override_environment_and_reach_every_worker(tmp_path: Path) -> None:
    model_dir = write_model(tmp_path / "current", "flagged")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = package_env(
        MODEL_DIR=str(tmp_path / "missing"),  # overridden by --model-dir in every worker
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
    )
    flags = ["--workers", "2", "--host", "127.0.0.1", "--port", str(port), "--model-dir", str(model_dir)]
    process = subprocess.Popen(
        [sys.executable, "-m", f"{package.__name__}.serve", *flags],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, with the workers
    )
    try:
        # The workers build their app from the environment: ready only if the flags reached them.
        wait_http_ready(url, process)
        # Either worker may answer and the second may still be loading: a worker without
        # the flags would never be ready, so ask until ten answers in a row are ready.
        deadline, streak = time.monotonic() + 30, 0
        while streak < 10:
            assert time.monotonic() < deadline, "a worker never became ready: the flags did not reach it"
            response = httpx.get(f"{url}/readyz", headers={"Connection": "close"})
            streak = streak + 1 if response.status_code == 200 else 0
            if response.status_code == 200:
                assert response.json()["model_version"] == "flagged"
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    finally:
        # Kill the workers too: orphaned, they would hold the pipes open and hang communicate().
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if process.returncode is None:
            process.communicate()
    assert process.returncode == 0


def _children(pid: int) -> set[int]:
    """The live uvicorn workers of the supervisor ``pid``: its children started by
    multiprocessing's spawn (not its resource tracker), from /proc."""
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z" and b"spawn_main" in command:
            children.add(int(stat.parent.name))
    return children


def test_a_killed_worker_leaves_no_live_series_and_only_metric_files_are_touched(tmp_path: Path) -> None:
    """WORKERS=2: a worker killed with SIGKILL is replaced, and /metrics then shows the
    model_ready series of the live workers only; at start only a previous run's
    prometheus_client files are removed from PROMETHEUS_MULTIPROC_DIR."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    (directory / "README.txt").write_text("not ours")
    (directory / "gauge_liveall_999999.db").write_bytes(b"stale")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = package_env(
        MODEL_DIR=str(write_model(tmp_path / "current", "v1")),
        PROMETHEUS_MULTIPROC_DIR=str(directory),
        WORKERS="2",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", f"{package.__name__}.serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )

    def ready_series() -> set[int]:
        text = httpx.get(f"{url}/metrics", timeout=10).text
        return {int(pid) for pid in re.findall(r'^model_ready\{pid="(\d+)"\} 1\.0$', text, re.M)}

    def settled(killed: int | None) -> bool:
        """Two live workers, neither of them ``killed``, and exactly their series."""
        workers = _children(process.pid)
        return len(workers) == 2 and killed not in workers and ready_series() == workers

    try:
        wait_http_ready(url, process)
        assert (directory / "README.txt").exists() and not (directory / "gauge_liveall_999999.db").exists()
        for killed in (None, min(_children(process.pid))):
            if killed is not None:
                os.kill(killed, signal.SIGKILL)
            deadline = time.monotonic() + 60
            while not settled(killed):
                assert time.monotonic() < deadline, (
                    f"killed {killed}: series {ready_series()}, workers {_children(process.pid)}"
                )
                time.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
