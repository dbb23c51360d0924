"""The variant-terms check finds what a variant cannot use, and a clean render has none.

`nox -s lint` runs it over all valid variants; here it is shown able to fail: each rule
is tripped by a line planted in a real render of a variant the rule applies to.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import options, variant_terms
from harness.render import render

SKLEARN = {**options.default_variant(), "framework": "sklearn", "kubernetes": "none", "ci": "none"}


@pytest.fixture(scope="module")
def sklearn_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(SKLEARN, tmp_path_factory.mktemp("sklearn"))


def test_a_clean_render_has_no_foreign_terms(sklearn_project: Path) -> None:
    assert variant_terms.foreign_terms(SKLEARN, sklearn_project) == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ('DEVICE = "auto"', "no device choice"),
        ("import torch", "no PyTorch"),
        ("from tensorflow import keras", "no TensorFlow"),
        ("torchrun --standalone", "no distributed training"),
        ("kubectl apply -k k8s/overlays/dev", "no Kubernetes"),
        ("see .github/workflows/ci.yml", "no CI workflow"),
        ("Generated with Cookiecutter.", "names its generator"),
    ],
)
def test_each_rule_names_the_file_line_and_reason(sklearn_project: Path, line: str, why: str) -> None:
    planted = sklearn_project / "src" / "planted.py"
    planted.write_text(f"# ok\n{line}\n", encoding="utf-8")
    try:
        hits = variant_terms.foreign_terms(SKLEARN, sklearn_project)
    finally:
        planted.unlink()
    assert any(hit.startswith("src/planted.py:2:") and why in hit for hit in hits), hits
