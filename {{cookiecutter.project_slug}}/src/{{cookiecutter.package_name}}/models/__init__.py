"""The model this project trains, behind one interface: FRAMEWORK, LAYOUT, OUTPUT_NAME and train()."""

{% if cookiecutter.framework == "pytorch" -%}
from .torch_cnn import FRAMEWORK, LAYOUT, OUTPUT_NAME, train
{%- elif cookiecutter.framework == "tensorflow" -%}
from .keras_cnn import FRAMEWORK, LAYOUT, OUTPUT_NAME, train
{%- else -%}
from .sklearn_pipeline import FRAMEWORK, LAYOUT, OUTPUT_NAME, train
{%- endif %}

__all__ = ["FRAMEWORK", "LAYOUT", "OUTPUT_NAME", "train"]
