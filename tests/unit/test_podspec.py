"""harness.podspec against the real manifests: render the template, build the overlays with
`kubectl kustomize`, and check the `docker run` arguments derived from them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness import options
from harness.podspec import (
    PodSpecError,
    docker_run,
    docker_run_args,
    expand_vars,
    load_documents,
    parse_bytes,
    parse_cpu,
)
from harness.render import render

SLUG = "digits-classifier"
PKG = "digits_classifier"
REPO = "ghcr.io/example/digits-classifier"
UID_GID = "10001:10001"

VARIANTS = {
    "sklearn": {**options.default_variant(), "framework": "sklearn"},
    "torchrun-cuda": {
        **options.default_variant(),
        "framework": "pytorch",
        "accelerator": "cuda",
        "distributed_training": "torchrun",
    },
}


def kustomize(overlay: Path) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with its built-in kustomize) is not installed: the podspec tests need it")
    proc = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    """(variant, overlay) -> the `kubectl kustomize` output of that overlay."""
    out: dict[tuple[str, str], str] = {}
    for key, variant in VARIANTS.items():
        project = render(variant, tmp_path_factory.mktemp(key))
        for overlay in sorted(p for p in (project / "k8s" / "overlays").iterdir() if p.is_dir()):
            out[(key, overlay.name)] = kustomize(overlay)
    return out


def pairs(argv: list[str], flag: str) -> list[str]:
    """Every value given to ``flag`` in ``argv``."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]


def workloads(manifest: str) -> list[tuple[str, str, str]]:
    """(kind, name, container) for every container of every workload in the manifest."""
    found = []
    for doc in load_documents(manifest):
        spec: dict[str, Any] | None = None
        if doc["kind"] in ("Deployment", "Job"):
            spec = doc["spec"]["template"]["spec"]
        elif doc["kind"] == "InferenceService":
            spec = doc["spec"]["predictor"]
        if spec:
            found += [(doc["kind"], doc["metadata"]["name"], c["name"]) for c in spec["containers"]]
    return found


def test_the_rendered_overlays_are_the_expected_ones(built: dict[tuple[str, str], str]) -> None:
    assert sorted(built) == [
        ("sklearn", "dev"),
        ("sklearn", "kserve"),
        ("sklearn", "prod"),
        ("torchrun-cuda", "dev"),
        ("torchrun-cuda", "gpu"),
        ("torchrun-cuda", "kserve"),
        ("torchrun-cuda", "prod"),
    ]


def test_every_container_of_every_overlay_runs_restricted(built: dict[tuple[str, str], str]) -> None:
    for (variant, overlay), manifest in built.items():
        found = workloads(manifest)
        serving = ("InferenceService", SLUG) if overlay == "kserve" else ("Deployment", f"{SLUG}-serve")
        assert {(k, n) for k, n, _ in found} == {serving, ("Job", f"{SLUG}-train")}
        for kind, name, container in found:
            run = docker_run(manifest, name, kind, container=container)
            argv = run.argv()
            where = f"{variant}/{overlay} {kind}/{name}"
            assert pairs(argv, "--user") == [UID_GID], where
            assert "--read-only" in argv, where
            assert pairs(argv, "--cap-drop") == ["ALL"], where
            assert "no-new-privileges" in pairs(argv, "--security-opt"), where
            assert "--privileged" not in argv, where
            assert any(t.startswith("/tmp:") and ",size=" in t for t in pairs(argv, "--tmpfs")), where
            assert pairs(argv, "--cpus") and pairs(argv, "--memory"), where
            assert run.image.startswith(REPO + ":"), where
            # The image comes right after the options, and nothing option-like hides after it.
            assert argv[len(run.options)] == run.image


def test_serve_deployment_in_dev(built: dict[tuple[str, str], str]) -> None:
    run = docker_run(built[("sklearn", "dev")], f"{SLUG}-serve")
    argv = run.argv()
    assert run.image == f"{REPO}:0.1.0-serve"
    assert pairs(argv, "--tmpfs") == [f"/tmp:rw,exec,mode=1777,size={64 * 2**20}"]
    assert pairs(argv, "--volume") == [f"{SLUG}-models:/models:ro"]
    assert run.volumes == {f"{SLUG}-models": "/models"}
    assert pairs(argv, "--cpus") == ["1"]
    assert pairs(argv, "--memory") == [str(512 * 2**20)]
    assert pairs(argv, "--group-add") == ["10001"]
    # Settings come from the generated ConfigMap, with dev's merged LOG_LEVEL.
    assert run.env["PORT"] == "8000"
    assert run.env["MODEL_DIR"] == "/models/current"
    assert run.env["LOG_LEVEL"] == "debug"
    assert f"PORT={run.env['PORT']}" in pairs(argv, "--env")
    # No command in the manifest: the image's entrypoint and command stay.
    assert "--entrypoint" not in argv
    assert run.args == []
    assert run.unresolved == []


def test_volume_prefix_and_image_override(built: dict[tuple[str, str], str]) -> None:
    argv = docker_run_args(built[("sklearn", "prod")], f"{SLUG}-serve", volume_prefix="t1-", image="local/serve:test")
    assert pairs(argv, "--volume") == [f"t1-{SLUG}-models:/models:ro"]
    assert "local/serve:test" in argv
    assert f"{REPO}:0.1.0-serve" not in argv


def test_single_process_training_job(built: dict[tuple[str, str], str]) -> None:
    run = docker_run(built[("sklearn", "dev")], f"{SLUG}-train", "Job")
    argv = run.argv()
    assert run.image == f"{REPO}:0.1.0-train"
    assert pairs(argv, "--entrypoint") == ["python"]
    assert run.args == ["-m", f"{PKG}.train"]
    assert argv[-3:] == [run.image, "-m", f"{PKG}.train"]
    assert sorted(pairs(argv, "--volume")) == [
        f"{SLUG}-checkpoints:/checkpoints",
        f"{SLUG}-models:/models",
        "emptydir-data:/data",
    ]
    assert pairs(argv, "--tmpfs") == [f"/tmp:rw,exec,mode=1777,size={256 * 2**20}"]
    assert run.env["EPOCHS"] == "2"  # dev's merge over the base's 20
    assert run.env["CHECKPOINT_DIR"] == "/checkpoints"
    assert run.env["DATA_DIR"] == "/data"
    assert "--shm-size" not in argv  # only the PyTorch variants mount /dev/shm


def test_prod_uses_the_base_settings(built: dict[tuple[str, str], str]) -> None:
    run = docker_run(built[("sklearn", "prod")], f"{SLUG}-train", "Job")
    assert run.env["EPOCHS"] == "20"
    assert docker_run(built[("sklearn", "prod")], f"{SLUG}-serve").env["LOG_LEVEL"] == "info"


def test_torchrun_job_needs_its_rank_from_the_caller(built: dict[tuple[str, str], str]) -> None:
    manifest = built[("torchrun-cuda", "dev")]
    run = docker_run(manifest, f"{SLUG}-train", "Job")
    # NODE_RANK comes from the downward API: only a cluster knows it.
    assert run.unresolved == ["NODE_RANK"]
    assert "--node_rank=$(NODE_RANK)" in run.args
    assert run.env["MASTER_ADDR"] == f"{SLUG}-train-0.{SLUG}-train"
    assert f"--master_addr={SLUG}-train-0.{SLUG}-train" in run.args
    assert pairs(run.argv(), "--shm-size") == [str(512 * 2**20)]

    ranked = docker_run(manifest, f"{SLUG}-train", "Job", env={"NODE_RANK": "1", "MASTER_ADDR": "trainer0"})
    assert ranked.unresolved == []
    assert pairs(ranked.argv(), "--entrypoint") == ["python"]
    assert ranked.args == [
        "-m",
        "torch.distributed.run",
        "--nnodes=2",
        "--nproc_per_node=1",
        "--node_rank=1",
        "--master_addr=trainer0",
        "--master_port=29500",
        "-m",
        f"{PKG}.train",
    ]


def test_gpu_limit_only_on_request(built: dict[tuple[str, str], str]) -> None:
    manifest = built[("torchrun-cuda", "gpu")]
    assert "--gpus" not in docker_run_args(manifest, f"{SLUG}-train", "Job")
    assert pairs(docker_run_args(manifest, f"{SLUG}-train", "Job", gpus=True), "--gpus") == ["1"]
    assert "--gpus" not in docker_run_args(manifest, f"{SLUG}-serve", gpus=True)  # serving stays on the CPU


def test_parsed_documents_give_the_same_result(built: dict[tuple[str, str], str]) -> None:
    manifest = built[("sklearn", "dev")]
    docs = list(yaml.safe_load_all(manifest))
    assert docker_run_args(docs, f"{SLUG}-serve") == docker_run_args(manifest, f"{SLUG}-serve")


def test_unknown_workload_and_container_are_named_in_the_error(built: dict[tuple[str, str], str]) -> None:
    manifest = built[("sklearn", "dev")]
    with pytest.raises(PodSpecError, match=f"Job/{SLUG}-train"):
        docker_run(manifest, "nope", "Deployment")
    with pytest.raises(PodSpecError, match="no container 'sidecar'"):
        docker_run(manifest, f"{SLUG}-serve", container="sidecar")
    with pytest.raises(PodSpecError, match="no pod template"):
        docker_run(manifest, f"{SLUG}-serve", "Service")


def test_missing_config_map_is_an_error(built: dict[tuple[str, str], str]) -> None:
    docs = [d for d in load_documents(built[("sklearn", "dev")]) if d["kind"] != "ConfigMap"]
    with pytest.raises(PodSpecError, match=r"ConfigMap .* not in the manifest"):
        docker_run(docs, f"{SLUG}-serve")


@pytest.mark.parametrize(
    ("text", "cores"),
    [("500m", "0.5"), ("2", "2"), (1, "1"), ("1.5", "1.5"), ("250m", "0.25")],
)
def test_parse_cpu(text: str | int, cores: str) -> None:
    assert str(parse_cpu(text).normalize()) == cores


@pytest.mark.parametrize(
    ("text", "size"),
    [("64Mi", 64 * 2**20), ("4Gi", 4 * 2**30), ("1G", 10**9), ("100k", 100_000), (1024, 1024), ("1.5Ki", 1536)],
)
def test_parse_bytes(text: str | int, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["", "abc", "10Xi", "5m"])
def test_bad_quantities_are_errors(text: str) -> None:
    with pytest.raises(PodSpecError):
        parse_bytes(text)


def test_expand_vars_follows_the_kubelet() -> None:
    env = {"A": "1", "B": "two"}
    assert expand_vars("--x=$(A) $(B)", env) == "--x=1 two"
    assert expand_vars("$(MISSING)", env) == "$(MISSING)"
    assert expand_vars("$$(A)", env) == "$(A)"
    assert expand_vars("cost $5", env) == "cost $5"


def test_kserve_predictor_mounts_its_storage_uri_claim_where_model_dir_points(
    built: dict[tuple[str, str], str],
) -> None:
    run = docker_run(built[("sklearn", "kserve")], SLUG, "InferenceService", volume_prefix="t-")
    assert pairs(run.argv(), "--volume") == [f"t-{SLUG}-models:/mnt/models:ro"]
    assert run.env["MODEL_DIR"] == "/mnt/models/current"
    assert run.image == f"{REPO}:0.1.0-serve"
