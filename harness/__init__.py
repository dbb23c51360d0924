"""Test harness for the ml-container-template cookiecutter template.

The noxfile at the repository root is a table of sessions; the logic lives here, in small
modules that import nothing from nox: options (the option space), render, lint, engine,
base_image, wheelhouse, build, podspec, smoke tests and reports.
"""
