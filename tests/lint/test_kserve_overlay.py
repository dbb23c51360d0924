"""The kserve overlay's InferenceService is checked against KServe's own API classes.

kubernetes-validate has no schema for KServe's kinds (it only warns), so the overlay check
hands KServe documents to harness.kserve_schema: the rendered overlay must pass, and an unknown
field, a wrong type or a missing required field must each fail with the field's path.
Everything runs for real: kubectl kustomize, kubernetes-validate and the kserve package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import kserve_schema, manifests, options, tools
from harness.checks import Unit

ROOT = Path(__file__).resolve().parent.parent.parent
VARIANT = options.variant_id(options.default_variant())
SLUG = "digits-classifier"
SOURCE = "k8s/overlays/kserve/inferenceservice.yaml"


def kserve_overlay(project: Path) -> Unit:
    return Unit(project / "k8s" / "overlays" / "kserve", project, [VARIANT])


@pytest.fixture
def edited(tmp_path: Path, default_project: Path):
    """A copy of the default variant's manifests with one text of one file replaced:
    ``edited(old, new, file=SOURCE)`` -> the kserve overlay's unit."""

    def edit(old: str, new: str, file: str = SOURCE) -> Unit:
        project = tmp_path / "project"
        shutil.copytree(default_project / "k8s", project / "k8s")
        source = project / file
        text = source.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} is not in {file} exactly once"
        source.write_text(text.replace(old, new), encoding="utf-8")
        return kserve_overlay(project)

    return edit


def test_the_rendered_kserve_overlay_validates(default_project: Path) -> None:
    assert manifests.validate([kserve_overlay(default_project)]) == []
    # ... and its InferenceService is one that KServe's classes have checked.
    built = subprocess.run(
        [tools.which("kubectl"), "kustomize", str(kserve_overlay(default_project).path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    [service] = [doc for doc in yaml.safe_load_all(built) if kserve_schema.is_kserve(doc)]
    assert (service["apiVersion"], service["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    assert kserve_schema.problems(service) == []


def test_an_unknown_field_fails_with_its_path(edited) -> None:
    unit = edited("        imagePullPolicy: Always\n", "        imagePullPolicy: Always\n        portz: 8000\n")
    [failure] = manifests.validate([unit])
    assert f"[{VARIANT}]" in failure.splitlines()[0]
    assert (
        f"kserve 0.21.0 API: {SOURCE} InferenceService/{SLUG}: "
        "spec.predictor.containers[0].portz: unknown field (V1Container has no such key)"
    ) in failure.splitlines()


def test_a_wrong_type_fails_with_its_path(edited) -> None:
    [failure] = manifests.validate([edited("    minReplicas: 2\n", '    minReplicas: "2"\n')])
    assert f"{SOURCE} InferenceService/{SLUG}: spec.predictor.minReplicas: expected int, got str ('2')" in failure


def test_a_missing_required_field_fails_with_its_path(edited) -> None:
    [failure] = manifests.validate([edited("      - name: kserve-container\n        image:", "      - image:")])
    assert f"{SOURCE} InferenceService/{SLUG}: spec.predictor.containers[0].name: required field missing" in failure


def test_the_other_documents_still_go_to_kubernetes_validate(edited) -> None:
    """Taking the InferenceService out for KServe's classes leaves the rest strictly checked."""
    ingress = "k8s/overlays/kserve/ingress.yaml"
    unit = edited("  ingressClassName: nginx\n", "  ingressClassName: nginx\n  bogus: 1\n", file=ingress)
    failures = manifests.validate([unit])  # one per Kubernetes version
    assert failures and all("kubernetes-validate" in f and "bogus" in f for f in failures), failures
    assert not any("kserve 0.21.0 API" in f for f in failures)


def test_a_kind_without_any_schema_fails_instead_of_passing(edited) -> None:
    """kubernetes-validate only warns about a kind it does not know; the check fails it."""
    unit = edited("---\n", "---\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n---\n")
    failures = manifests.validate([unit])  # one per Kubernetes version
    assert failures and all("Couldn't find schema for kind Widget" in f for f in failures), failures


def test_without_kserve_the_check_fails_and_says_why(default_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules is Python's own way to make an import fail (ImportError).
    monkeypatch.setitem(sys.modules, "kserve", None)
    kserve_schema._modules.cache_clear()
    try:
        [failure] = manifests.validate([kserve_overlay(default_project)])
    finally:
        kserve_schema._modules.cache_clear()
    assert "cannot check KServe resources: importing kserve failed (ModuleNotFoundError" in failure
    assert "install the kserve package" in failure


def test_kserve_is_imported_only_for_overlays_with_kserve_resources(default_project: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from harness import manifests; from harness.checks import Unit\n"
        "project = Path(sys.argv[1])\n"
        "units = [Unit(project / 'k8s' / 'overlays' / name, project) for name in ('dev', 'prod')]\n"
        "assert manifests.validate(units) == []\n"
        "print('kserve' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(default_project)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "False"
