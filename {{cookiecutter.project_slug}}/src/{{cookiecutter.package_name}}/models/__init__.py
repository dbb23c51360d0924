"""The model this project trains, behind one interface: FRAMEWORK, LAYOUT and train()."""

{% if cookiecutter.framework == "pytorch" -%}
from .torch_cnn import FRAMEWORK, LAYOUT, train
{%- elif cookiecutter.framework == "tensorflow" -%}
from .keras_cnn import FRAMEWORK, LAYOUT, train
{%- else -%}
from .sklearn_pipeline import FRAMEWORK, LAYOUT, train
{%- endif %}

__all__ = ["FRAMEWORK", "LAYOUT", "train"]
