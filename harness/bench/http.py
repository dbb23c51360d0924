"""HTTP load with wrk (a kept load generator, not a hand-written loop), loopback only.

``load(url, concurrency, seconds, body=...)`` runs ``wrk -c N -t min(N, 2) -d S`` with
post.lua, which POSTs a multipart body (one PNG digit) or GETs, and returns requests per
second, latency percentiles and error counts. Non-2xx answers count as errors and not
in the throughput (a server shedding load with fast 503s must not look faster); latency
percentiles are wrk's, over every answer.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "post.lua"


class LoadToolMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Load:
    concurrency: int
    requests: int
    seconds: float
    rps: float  # successful (2xx) answers per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int


def multipart(filename: str, data: bytes, field: str = "files") -> tuple[bytes, str]:
    """A multipart/form-data body with one file, and its Content-Type."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def wrk_path() -> str:
    path = shutil.which("wrk")
    if not path:
        raise LoadToolMissing("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`")
    return path


def parse(output: str, concurrency: int) -> Load:
    line = next((ln for ln in output.splitlines() if ln.startswith("BENCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    seconds = data["duration_us"] / 1e6
    return Load(
        concurrency=concurrency,
        requests=data["requests"],
        seconds=seconds,
        rps=(data["requests"] - data["status_errors"]) / seconds if seconds else 0.0,
        p50_ms=data["p50_us"] / 1e3,
        p90_ms=data["p90_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
        max_ms=data["max_us"] / 1e3,
        errors=data["status_errors"] + data["socket_errors"],
    )


def load(url: str, concurrency: int, seconds: float, body: tuple[bytes, str] | None = None) -> Load:
    """Drive ``url`` with ``concurrency`` connections for ``seconds``; POST ``body`` if given."""
    threads = max(1, min(concurrency, 2))
    cmd = [wrk_path(), "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds:g}s", "--timeout", "10s"]
    cmd += ["-s", str(LUA), url]
    env = dict(os.environ, WRK_BODY="", WRK_CONTENT_TYPE="")
    with tempfile.NamedTemporaryFile(prefix="wrk-body-", suffix=".bin") as fh:
        if body is not None:
            fh.write(body[0])
            fh.flush()
            env.update(WRK_BODY=fh.name, WRK_CONTENT_TYPE=body[1])
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return parse(proc.stdout, concurrency)
