"""The Kubernetes workloads, run with Docker under the constraints their manifests declare.

No API server runs here, so the rendered dev overlay (`kubectl kustomize`) is translated by
harness.podspec into `docker run` arguments: user and group, read-only root filesystem,
all capabilities dropped, no privilege escalation, tmpfs for each emptyDir, environment
from the ConfigMaps, CPU and memory limits, command and args as written. The train Job must
complete and write a model; the serve Deployment must pass its readiness path within the
startupProbe budget and answer a prediction, and so must the kserve overlay's
InferenceService predictor on the model the Job trained. With torchrun, two train containers on one
network are node 0 and node 1 exactly as the Indexed Job wires them.
"""

from __future__ import annotations

import subprocess

import pytest

from harness import smoke
from harness.engine import Engine
from harness.pipeline import VariantImages
from harness.podspec import DockerRun, docker_run, find_workload, load_documents
from harness.sandbox import Sandbox, post_images, wait_http

OVERLAY = "dev"
pytestmark = pytest.mark.kubernetes


def kustomize(images: VariantImages, name: str) -> str:
    overlay = images.project / "k8s" / "overlays" / name
    proc = subprocess.run(["kubectl", "kustomize", str(overlay)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"kubectl kustomize {overlay} failed: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def manifest(images: VariantImages) -> str:
    return kustomize(images, OVERLAY)


def slug(images: VariantImages) -> str:
    return images.project.name


def start(box: Sandbox, run: DockerRun, name: str, extra: list[str] | None = None) -> None:
    for volume in run.volumes:
        box.adopt_volume(volume)
    box.run(run.image, *run.args, name=name, options=[*run.options, *(extra or [])], detach=True)


def startup_budget(manifest: str, images: VariantImages) -> float:
    deployment = find_workload(load_documents(manifest), "Deployment", f"{slug(images)}-serve")
    probe = deployment["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    return probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"]


def test_train_job_and_serve_deployment_run_under_their_pod_constraints(
    engine: Engine, box: Sandbox, images: VariantImages, manifest: str
) -> None:
    prefix = f"{box.run_id}-"
    job = f"{slug(images)}-train"
    if images.variant["distributed_training"] == "torchrun":
        network = box.network("train")
        master = box.name("train-0")
        for rank in (0, 1):
            run = docker_run(
                manifest, job, "Job", image=images.image("train"), volume_prefix=prefix,
                env={"NODE_RANK": str(rank), "MASTER_ADDR": master},
            )  # fmt: skip
            start(box, run, f"train-{rank}", ["--network", network, "--hostname", box.name(f"train-{rank}")])
        names = ["train-0", "train-1"]
    else:
        run = docker_run(manifest, job, "Job", image=images.image("train"), volume_prefix=prefix)
        assert not run.unresolved, run.unresolved
        start(box, run, "train")
        names = ["train"]
    status = box.wait_gang(names, timeout=smoke.TRAIN_TIMEOUT)
    if any(code != 0 for code in status.values()):
        logs = "\n".join(f"--- {name} ({status[name]}):\n{box.logs(name)[-3000:]}" for name in names)
        pytest.fail(f"the train Job failed: {status}\n{logs}")

    serve = docker_run(
        manifest, f"{slug(images)}-serve", "Deployment", image=images.image("serve"), volume_prefix=prefix
    )
    assert "--read-only" in serve.options and "--cap-drop" in serve.options
    port = int(serve.env.get("PORT", images.serve_port))
    start(box, serve, "serve", ["-p", f"127.0.0.1::{port}"])
    url = f"http://127.0.0.1:{box.host_port('serve', port)}"
    try:
        seconds = wait_http(f"{url}/readyz", timeout=min(startup_budget(manifest, images), 120))
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{box.logs('serve')[-3000:]}")
    print(f"{images.id}: serve ready in {seconds:.1f} s under the Deployment's constraints")
    inspect = box.inspect("serve")["HostConfig"]
    assert inspect["ReadonlyRootfs"] is True
    assert inspect["CapDrop"] == ["ALL"]

    answer = post_images(f"{url}/v1/predict", {"digit.png": smoke.sample_png(engine, images)})
    assert answer["predictions"][0]["top_k"][0]["label"] in [str(d) for d in range(10)]

    # The kserve overlay's predictor: the same image under the InferenceService's pod spec,
    # the models claim the Job filled mounted where KServe mounts its STORAGE_URI.
    kserve = kustomize(images, "kserve")
    predictor = docker_run(kserve, slug(images), "InferenceService", image=images.image("serve"), volume_prefix=prefix)
    assert not predictor.unresolved, predictor.unresolved
    port = int(predictor.env["PORT"])
    start(box, predictor, "predictor", ["-p", f"127.0.0.1::{port}"])
    url = f"http://127.0.0.1:{box.host_port('predictor', port)}"
    try:
        wait_http(f"{url}/v2/health/ready", timeout=120)
    except TimeoutError as exc:
        pytest.fail(f"the kserve predictor did not get ready: {exc}\n{box.logs('predictor')[-3000:]}")
    answer = post_images(f"{url}/v1/predict", {"digit.png": smoke.sample_png(engine, images)})
    assert answer["predictions"][0]["top_k"][0]["label"] in [str(d) for d in range(10)]
