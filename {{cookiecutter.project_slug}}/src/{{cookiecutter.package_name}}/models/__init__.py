"""The model this project trains, behind one interface: FRAMEWORK, LAYOUT, INPUT_NAME,
OUTPUT_NAME and train(){% if cookiecutter.framework != "sklearn" %}, plus the small CNN's shape (``small_cnn_stages``){% endif %}.

The constants live here and ``train`` imports the framework when it is called, so the
data is checked (and a data problem reported in one line) before
{%- if cookiecutter.framework == "pytorch" %} PyTorch{% elif cookiecutter.framework == "tensorflow" %} TensorFlow{% else %} scikit-learn{% endif %} loads.
"""

from __future__ import annotations

{% if cookiecutter.framework != "sklearn" -%}
import math
{% endif -%}
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..export import TrainedModel

{% if cookiecutter.framework == "pytorch" -%}
FRAMEWORK = "pytorch"
LAYOUT = "NCHW"
{%- elif cookiecutter.framework == "tensorflow" -%}
FRAMEWORK = "tensorflow"
LAYOUT = "NHWC"
{%- else -%}
FRAMEWORK = "sklearn"
LAYOUT = "NF"
{%- endif %}
INPUT_NAME = "input"
OUTPUT_NAME = "probabilities"

{%- if cookiecutter.framework != "sklearn" %}


def small_cnn_stages(height: int, width: int) -> list[int]:
    """Output channels of each downsampling stage of the small CNN, for a height x width input.

    The first stage (3x3 convolutions to 32 and 64 channels, then 2x2 max pooling) is the
    whole feature extractor for 8x8 digits; each further stage (a 3x3 convolution, then
    pooling) halves the feature map again (rounding up) and doubles the channels up to 256,
    until the longer side is at most 4 pixels: 1 stage for 8x8, 3 for 32x32, 6 for 224x224.
    """
    stages = max(1, math.ceil(math.log2(max(height, width) / 4)))
    return [min(64 * 2**stage, 256) for stage in range(stages)]


def pooled_side(side: int, stages: int) -> int:
    """A side of the feature map after ``stages`` 2x2 poolings that round up."""
    for _ in range(stages):
        side = (side + 1) // 2
    return side
{%- endif %}


def train(*args: Any, **kwargs: Any) -> TrainedModel | None:
    """Train the model (see {% if cookiecutter.framework == "pytorch" %}``torch_cnn.train``{% elif cookiecutter.framework == "tensorflow" %}``keras_cnn.train``{% else %}``sklearn_pipeline.train``{% endif %} for the arguments)."""
{%- if cookiecutter.framework == "pytorch" %}
    from .torch_cnn import train as train_model
{%- elif cookiecutter.framework == "tensorflow" %}
    from .keras_cnn import train as train_model
{%- else %}
    from .sklearn_pipeline import train as train_model
{%- endif %}

    return train_model(*args, **kwargs)


__all__ = ["FRAMEWORK", "INPUT_NAME", "LAYOUT", "OUTPUT_NAME"{% if cookiecutter.framework != "sklearn" %}, "pooled_side", "small_cnn_stages"{% endif %}, "train"]
