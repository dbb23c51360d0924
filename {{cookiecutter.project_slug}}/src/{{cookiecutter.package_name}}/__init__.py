{{ cookiecutter.description | python_docstring }}

__title__ = {{ cookiecutter.project_name | python_string }}
__version__ = "{{ cookiecutter.version }}"
