"""The model every peer serves: a trained model directory (model.onnx, manifest.json,
labels.json) run with ONNX Runtime, and the template's preprocessing (PIL decode, convert to
the manifest's color mode, bilinear resize, scale, (x - mean) / std, the manifest's layout).

Written once for the three peers, as a user of each framework would write their model
class, so that the benchmark compares the serving frameworks, not the model code.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

MODEL_DIR = Path(os.environ.get("MODEL_DIR", "/models/current"))


class OnnxClassifier:
    """``classify(images)`` takes encoded image files (bytes) or PIL images and returns one
    ``{"label": str, "probability": float}`` per image; ``run(batch)`` takes preprocessed
    float32 examples stacked on axis 0 and returns probabilities, shape [N, classes]."""

    def __init__(self, model_dir: Path = MODEL_DIR) -> None:
        manifest = json.loads((model_dir / "manifest.json").read_text())
        self.pre = manifest["preprocessing"]
        self.input_name = manifest["input_name"]
        self.output_name = manifest["output_name"]
        self.labels = json.loads((model_dir / "labels.json").read_text())
        self.session = ort.InferenceSession(str(model_dir / "model.onnx"), providers=["CPUExecutionProvider"])

    def preprocess(self, image: bytes | Image.Image) -> np.ndarray:
        """One image to one example of model input (float32, no batch axis)."""
        if isinstance(image, bytes):
            image = Image.open(io.BytesIO(image))
        pre = self.pre
        if image.mode != pre["color_mode"]:
            image = image.convert(pre["color_mode"])
        size = (int(pre["size"][0]), int(pre["size"][1]))
        if image.size != size:
            image = image.resize(size, Image.Resampling.BILINEAR)
        pixels = np.asarray(image, dtype=np.float32) * np.float32(pre["scale"])
        pixels = (pixels - np.float32(pre["mean"])) / np.float32(pre["std"])
        if pixels.ndim == 2:
            pixels = pixels[:, :, np.newaxis]
        if pre["layout"] == "NCHW":
            return np.ascontiguousarray(pixels.transpose(2, 0, 1))
        if pre["layout"] == "NHWC":
            return np.ascontiguousarray(pixels)
        return pixels.reshape(-1)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]

    def classify(self, images: list[bytes | Image.Image]) -> list[dict]:
        probs = self.run(np.stack([self.preprocess(image) for image in images]))
        best = probs.argmax(axis=1)
        return [{"label": self.labels[int(i)], "probability": float(p[i])} for i, p in zip(best, probs, strict=True)]
