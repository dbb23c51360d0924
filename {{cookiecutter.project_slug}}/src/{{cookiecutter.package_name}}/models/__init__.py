"""The model this project trains, behind one interface: FRAMEWORK, LAYOUT, INPUT_NAME,
OUTPUT_NAME and train().

The constants live here and ``train`` imports the framework when it is called, so the
data is checked (and a data problem reported in one line) before
{%- if cookiecutter.framework == "pytorch" %} PyTorch{% elif cookiecutter.framework == "tensorflow" %} TensorFlow{% else %} scikit-learn{% endif %} loads.
"""

from __future__ import annotations

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


__all__ = ["FRAMEWORK", "INPUT_NAME", "LAYOUT", "OUTPUT_NAME", "train"]
