"""Peers: the same trained model served by BentoML, LitServe and KServe's ModelServer,
measured in the same run as ours with the same load generator, payload and container limits.

Each peer is set up the way its documentation shows for a custom ONNX Runtime model
(``peer_servers/<peer>_*.py``, around the shared ``peer_servers/onnx_classifier.py`` that
does the template's preprocessing), in its own image from our base image, with the same
onnxruntime, numpy and pillow as our serve image (``peer_servers/lock.sh``). Payloads:
BentoML and LitServe take the PNG as a multipart upload, as ours does on ``/v1/predict``;
KServe takes it as a base64 BYTES tensor in an Open Inference Protocol JSON request, and
ours is measured on ``/v2`` with byte for byte the same request.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import smoke, wheelhouse
from ..sandbox import Sandbox, wait_http
from . import builds, http
from .core import Bench, Variant
from .report import Target

HERE = Path(__file__).resolve().parent / "peer_servers"
LOCKED_PYTHON = "3.11"  # peer_servers/lock.sh locks for CPython 3.11
GROUP = "Serving: peers on the same model.onnx"
READY_TIMEOUT = 180


@dataclass(frozen=True)
class Peer:
    name: str
    title: str
    port: int
    command: tuple[str, ...]  # "{model}" stands for the model name
    ready: str  # path that answers 200 once the model is loaded
    predict: str
    payload: str  # "multipart" (form field "image") or "v2-json"


PEERS = (
    Peer(
        "bentoml",
        "BentoML",
        3000,
        ("bentoml", "serve", "bentoml_service:Classifier", "--host", "0.0.0.0", "--port", "3000"),
        "/readyz",
        "/predict",
        "multipart",
    ),
    Peer("litserve", "LitServe", 8000, ("python", "litserve_server.py"), "/health", "/predict", "multipart"),
    Peer(
        "kserve",
        "KServe",
        8080,
        ("python", "kserve_server.py", "--model_name", "{model}", "--enable_grpc", "false"),
        "/v2/models/{model}/ready",
        "/v2/models/{model}/infer",
        "v2-json",
    ),
)


class PeerError(RuntimeError):
    """A peer could not be built, started or did not answer; the message says which and why."""


def v2_json(png: bytes, input_name: str = "image") -> tuple[bytes, str]:
    """An Open Inference Protocol infer request (JSON) with one image as a base64 BYTES tensor."""
    tensor = {"name": input_name, "shape": [1], "datatype": "BYTES", "data": [base64.b64encode(png).decode()]}
    return json.dumps({"inputs": [tensor]}).encode(), "application/json"


def build_images(v: Variant) -> dict[str, str]:
    """Build every peer's image on the variant's base image; return peer name -> image tag.

    Wheels come from the shared wheelhouse (prefetched from each peer's lock), the build
    has no index. Raises PeerError for a Python other than LOCKED_PYTHON, BuildError and
    WheelhouseError as our own builds do.
    """
    python = v.variant["python_version"]
    if python != LOCKED_PYTHON:
        raise PeerError(f"the peers are locked for Python {LOCKED_PYTHON}, not {python}: bench a py3.11 variant")
    tags = {}
    for peer in PEERS:
        lock = HERE / f"{peer.name}.txt"
        wheels = wheelhouse.prefetch([lock], python, log=v.logs / f"prefetch-peer-{peer.name}.log")
        context = v.project.parent / "peers" / peer.name
        context.mkdir(parents=True, exist_ok=True)
        for source in HERE.glob("*.py"):
            shutil.copy2(source, context / source.name)
        shutil.copy2(lock, context / "requirements.txt")
        wheelhouse.link_into(context, wheels, python, extra=[lock])
        tag = f"{v.repository}:{v.id}-peer-{peer.name}"
        args = {"BASE_IMAGE": v.base, "PEER": peer.name}
        builds.build_offline(
            v.engine, context, HERE / "Dockerfile", "peer", tag, args, v.logs / f"build-peer-{peer.name}.log"
        )
        tags[peer.name] = tag
    return tags


def compare(
    bench: Bench, v: Variant, box: Sandbox, models: str, png: bytes, ours: str, runs: int, seconds: float
) -> None:
    """Serve ``models`` (a volume holding ``current/``) with each peer, then load ours and
    each peer alternately, ``runs`` times at concurrency 1 and 16, ``seconds`` each.

    ``ours`` is the base URL of our running serve container. Adds figures under GROUP and,
    to ours, the targets "at least 1.0x each peer's throughput, p99 no worse".
    """
    vid, model = v.id, v.project.name
    tags = build_images(v)
    bodies = {"multipart": http.multipart("digit.png", png, field="image"), "v2-json": v2_json(png)}
    urls = {}
    for peer in PEERS:
        name = f"peer-{peer.name}"
        opts = [*smoke.HARDENED, "-v", f"{models}:/models:ro", "-p", f"127.0.0.1::{peer.port}"]
        start = time.monotonic()
        box.run(
            tags[peer.name], *(arg.format(model=model) for arg in peer.command), name=name, options=opts, detach=True
        )
        url = f"http://127.0.0.1:{box.host_port(name, peer.port)}"
        try:
            wait_http(url + peer.ready.format(model=model), READY_TIMEOUT)
        except TimeoutError as exc:
            raise PeerError(f"{peer.title} did not get ready: {exc}\n{box.logs(name)[-3000:]}") from None
        secs = time.monotonic() - start
        bench.add(f"peer.{vid}.{peer.name}.ready", secs, f"{vid}: {peer.title} start to ready", "s", GROUP)
        urls[peer.name] = url + peer.predict.format(model=model)
        _answers(urls[peer.name], bodies[peer.payload], peer.title, lambda name=name: box.logs(name))
    ours_v2 = f"{ours}/v2/models/{model}/infer"
    _answers(ours_v2, bodies["v2-json"], "ours (/v2)", lambda: "")
    for _ in range(runs):
        for conc in (1, 16):
            _measure(bench, vid, "ours-v2", "ours, /v2 JSON", ours_v2, bodies["v2-json"], conc, seconds)
            for peer in PEERS:
                _measure(bench, vid, peer.name, peer.title, urls[peer.name], bodies[peer.payload], conc, seconds)
        bench.save()
    for peer in PEERS:
        v.engine.run("rm", "-f", box.name(f"peer-{peer.name}"), check=False)
    _targets(bench, vid)


def _answers(url: str, body: tuple[bytes, str], title: str, logs: Callable[[], str]) -> None:
    """One prediction must succeed; else PeerError with the answer and ``logs()`` (read only then)."""
    request = urllib.request.Request(url, data=body[0], headers={"Content-Type": body[1]})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
    except Exception as exc:
        detail = exc.read()[:500] if isinstance(exc, urllib.error.HTTPError) else b""
        raise PeerError(f"{title} did not answer a prediction at {url}: {exc} {detail!r}\n{logs()[-3000:]}") from None


def _measure(bench: Bench, vid: str, key: str, title: str, url: str, body, conc: int, seconds: float) -> None:
    load = http.load(url, conc, seconds, body)
    prefix = f"peer.{vid}.{key}.c{conc}"
    bench.add(f"{prefix}.rps", load.rps, f"{vid}: {title}, throughput c={conc}", "rps", GROUP)
    bench.add(f"{prefix}.p99", load.p99_ms, f"{vid}: {title}, p99 c={conc}", "ms", GROUP)
    bench.raw.setdefault(f"peer.{vid}.{key}", []).append(load.__dict__)
    if load.errors:
        bench.note(f"{vid}: wrk saw {load.errors} errors from {title} at c={conc}")


def _targets(bench: Bench, vid: str) -> None:
    """Ours against each peer on the same payload: throughput >= 1.0x, p99 <= 1.0x."""
    for peer in PEERS:
        ours = f"http.{vid}.predict" if peer.payload == "multipart" else f"peer.{vid}.ours-v2"
        for conc in (1, 16):
            theirs = f"peer.{vid}.{peer.name}.c{conc}"
            for metric, op in (("rps", ">="), ("p99", "<=")):
                figure = bench.figures.get(f"{ours}.c{conc}.{metric}")
                target = Target(op, 1.0, f"{theirs}.{metric}", peer.title + (" p99" if metric == "p99" else ""))
                if figure is not None and target not in figure.targets:
                    figure.targets.append(target)
    bench.save()
