"""The main job on built images: train into a volume, serve it, classify held-out images.

Shared by `nox -s demo` and the Docker tests, so the demo shows exactly what is tested.
Containers run the way compose and Kubernetes run them: non-root (the image's user),
read-only root filesystem, tmpfs /tmp, no capabilities, no privilege escalation.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .engine import Engine
from .pipeline import VariantImages
from .sandbox import Sandbox, post_images, wait_http

HARDENED = (
    "--read-only",
    "--tmpfs", "/tmp:size=512m,mode=1777",
    "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
    "--cpus", "2",
    "--memory", "6g",
)  # fmt: skip
TRAIN_TIMEOUT = 1200
READY_TIMEOUT = 60


@dataclass(frozen=True)
class Classified:
    correct: int
    total: int
    samples: list[tuple[str, str, str, float]]  # (file, true label, predicted label, probability)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


def train(
    box: Sandbox,
    images: VariantImages,
    log: Path | None = None,
    dataset: str = "digits",
    settings: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """Run the train image to completion; return the (models, data) volumes it filled.

    ``log``: a file that receives the container's output while it runs (its folder is
    created), so a progress line can show how training goes. ``dataset``: the project's
    built-in data set to train on: "digits" (training writes it into the empty volume
    itself) or "shapes" (written first by ``python -m <package>.data materialize``).
    ``settings``: training settings (environment variables) beside the image's own.
    """
    models, data, checkpoints = box.volume("models"), box.volume("data"), box.volume("checkpoints")
    mounts = ["-v", f"{models}:/models", "-v", f"{data}:/data", "-v", f"{checkpoints}:/checkpoints"]
    if dataset != "digits":
        box.run(
            images.image("train"),
            "python", "-m", f"{images.package}.data", "materialize", "--dataset", dataset, "/data",
            name=f"materialize-{dataset}",
            options=[*HARDENED, *mounts],
            timeout=300,
        )  # fmt: skip
    env = [option for name, value in (settings or {}).items() for option in ("-e", f"{name}={value}")]
    box.run(images.image("train"), name="train", options=[*HARDENED, "--init", *env, *mounts], detach=True)
    with box.follow_logs("train", log):
        status = box.wait_exit("train", timeout=TRAIN_TIMEOUT)
    if status != 0:
        raise AssertionError(f"training exited {status}:\n{box.logs('train')[-4000:]}")
    return models, data


def serve(box: Sandbox, images: VariantImages, models: str) -> str:
    """Start the serve image on the models volume; return its URL once /readyz says 200."""
    port = images.serve_port
    options = [*HARDENED, "-v", f"{models}:/models:ro", "-p", f"127.0.0.1::{port}"]
    box.run(images.image("serve"), name="serve", options=options, detach=True)
    url = f"http://127.0.0.1:{box.host_port('serve', port)}"
    try:
        wait_http(f"{url}/readyz", READY_TIMEOUT)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{box.logs('serve')[-3000:]}") from None
    return url


def held_out_images(box: Sandbox, images: VariantImages, data: str) -> dict[str, tuple[str, bytes]]:
    """The test split training left in the data volume: file -> (true label, PNG bytes)."""
    files = box.copy_out(data, "test", images.image("train"))
    return {name: (Path(name).parent.name, body) for name, body in sorted(files.items()) if name.endswith(".png")}


def classify(url: str, digits: dict[str, tuple[str, bytes]], batch: int = 16) -> Classified:
    """POST the images (file -> (true label, bytes)) to /v1/predict, ``batch`` per request."""
    names = sorted(digits)
    correct, samples = 0, []
    for start in range(0, len(names), batch):
        chunk = names[start : start + batch]
        answer = post_images(f"{url}/v1/predict", {n: digits[n][1] for n in chunk})
        for name, prediction in zip(chunk, answer["predictions"], strict=True):
            best = prediction["top_k"][0]
            correct += best["label"] == digits[name][0]
            samples.append((name, digits[name][0], best["label"], best["probability"]))
    return Classified(correct, len(names), samples)


def sample_png(engine: Engine, images: VariantImages) -> bytes:
    """A small PNG (a diagonal stroke), drawn by Pillow inside the serve image."""
    script = (
        "import io, sys, numpy as np; from PIL import Image;"
        "img = Image.fromarray((np.eye(8) * 255).astype('uint8'));"
        "buf = io.BytesIO(); img.save(buf, 'PNG'); sys.stdout.buffer.write(buf.getvalue())"
    )
    cmd = [
        engine.docker,
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "python",
        images.image("serve"),
        "-c",
        script,
    ]
    return subprocess.run(cmd, capture_output=True, env=engine.env(), check=True).stdout
