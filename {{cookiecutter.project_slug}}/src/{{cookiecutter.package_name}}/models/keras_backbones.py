"""Pretrained image-recognition backbones from ``keras.applications`` with a new head.

``MODEL=mobilenet_v3_small`` or ``resnet50``: the backbone without its ImageNet classifier
(``include_top=False``, global average pooling), dropout and a new softmax layer for this
data set's classes; every layer is fine-tuned. The model still takes the project's own
input (``preprocess_image``'s normalised pixels), so serving is unchanged: the first
layers turn it back into the 0-255 RGB pixels the ImageNet weights were trained on
(grey images repeated over three channels, images smaller than ``MIN_SIDE`` scaled up),
then apply the backbone's own preprocessing.

Weights come through the library's API: ``weights="imagenet"`` (downloaded once into
``~/.keras``), a local weights file of the backbone without its top (``WEIGHTS_PATH``, for
machines without internet access: make one with ``backbone(name, shape,
"imagenet").save_weights(path)`` where there is a connection), or none at all.
"""

from __future__ import annotations

from pathlib import Path

import keras

from ..artifacts import Preprocessing
from . import INPUT_NAME

MIN_SIDE = 32  # the smallest input keras.applications' backbones take
DROPOUT = 0.2


def backbone(name: str, shape: tuple[int, int, int], weights: str | Path | None) -> keras.Model:
    """The ``name`` backbone for RGB input of ``shape`` (height, width, 3), without its top,
    average-pooled; ``weights``: "imagenet", a weights file's path, or None (random).

    Raises ValueError for an unknown name, and Keras' own errors for a weights file that
    does not fit the backbone.
    """
    weights = str(weights) if isinstance(weights, Path) else weights
    if name == "mobilenet_v3_small":
        return keras.applications.MobileNetV3Small(
            input_shape=shape, include_top=False, weights=weights, pooling="avg", include_preprocessing=True
        )
    if name == "resnet50":
        return keras.applications.ResNet50(
            input_shape=shape, include_top=False, weights=weights, pooling="avg"
        )
    raise ValueError(f"unknown backbone {name!r}; expected mobilenet_v3_small or resnet50")


def build_classifier(
    name: str,
    classes: int,
    input_shape: tuple[int, ...],
    pre: Preprocessing,
    weights: str | Path | None,
) -> keras.Model:
    """The backbone ``name`` with a new ``classes``-way softmax head, for the project's input
    (height, width, channels) as ``pre`` makes it; ``weights`` as for ``backbone``."""
    height, width, channels = input_shape
    inputs = keras.Input(shape=input_shape, name=INPUT_NAME)
    # preprocess_image gave ((pixel / 255) - mean) / std: undo it, back to 0..255.
    x = keras.layers.Rescaling(scale=pre.std * 255.0, offset=pre.mean * 255.0, name="to_pixels")(inputs)
    if channels == 1:
        x = keras.layers.Concatenate(name="gray_to_rgb")([x, x, x])
    size = (max(height, MIN_SIDE), max(width, MIN_SIDE))
    if size != (height, width):
        x = keras.layers.Resizing(*size, interpolation="bilinear", name="to_min_size")(x)
    if name == "resnet50":
        x = keras.applications.resnet50.preprocess_input(x)  # ResNet50's caffe-style BGR means
    features = backbone(name, (*size, 3), weights)(x)
    features = keras.layers.Dropout(DROPOUT)(features)
    outputs = keras.layers.Dense(classes, activation="softmax", name="classes")(features)
    return keras.Model(inputs, outputs, name=name)
