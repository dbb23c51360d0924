"""Reproduce a Kubernetes pod's container constraints as `docker run` arguments.

The generated project's kustomize overlays describe how its containers run in a cluster:
a non-root user, a read-only root filesystem, no capabilities, memory-backed `/tmp`,
settings from a ConfigMap, CPU and memory limits. The docker-backed tests run the same
images under the same constraints without a cluster: this module reads the rendered
manifests (`kubectl kustomize <overlay>`) and translates one workload's container into
`docker run` arguments. It is pure: no docker, no kubectl, no files; it only reads the
manifests it is given.

What is reproduced, from the pod and container specs (container settings win):

==============================================  ==========================================
Kubernetes                                      docker run
==============================================  ==========================================
runAsUser / runAsGroup                          ``--user uid:gid``
fsGroup, supplementalGroups                     ``--group-add gid``
readOnlyRootFilesystem: true                    ``--read-only``
capabilities.drop / .add                        ``--cap-drop X`` / ``--cap-add X``
allowPrivilegeEscalation: false                 ``--security-opt no-new-privileges``
privileged: true                                ``--privileged``
seccompProfile Unconfined                       ``--security-opt seccomp=unconfined``
                                                (RuntimeDefault is docker's default)
emptyDir, medium Memory                         ``--tmpfs path:rw,exec,mode=1777,size=N``
emptyDir on disk                                ``--volume <prefix>emptydir-<name>:path``
                                                (a fresh named docker volume)
emptyDir mounted at /dev/shm                    ``--shm-size N``
persistentVolumeClaim mount                     ``--volume <prefix><claim>:path[:ro]``
                                                (a named docker volume)
envFrom configMapRef (+ prefix)                 ``--env K=V`` from that ConfigMap's data
env value / configMapKeyRef                     ``--env K=V`` (env overrides envFrom)
limits.cpu / limits.memory                      ``--cpus`` / ``--memory`` (bytes)
limits nvidia.com/gpu (only if asked)           ``--gpus N``
command / args                                  ``--entrypoint command[0]``, then the rest
                                                after the image; ``$(VAR)`` expanded the
                                                way the kubelet does, from the env above
workingDir                                      ``--workdir``
InferenceService (KServe): the predictor's pod  as a Deployment's pod spec; its container's
spec, and its ``STORAGE_URI=pvc://<claim>``     ``--volume <prefix><claim>:/mnt/models:ro``
                                                (what KServe mounts for that URI)
==============================================  ==========================================

What it does NOT reproduce: probes (startup, readiness, liveness) and lifecycle hooks
(the preStop sleep); NetworkPolicies and Services (networking is the caller's: add
``--network``/``--publish`` yourself); requests (only limits become docker limits) and
ephemeral-storage; the fsGroup ownership change of volumes (a fresh named volume takes
its owner from the image's directory, not from fsGroup); emptyDir size limits on disk
(a docker volume has none); a Memory emptyDir over a directory the image has (Docker's
tmpfs takes that directory's mode but root as its owner, fine for /tmp); the
service-account token (never mounted here anyway); the downward
API (``fieldRef``/``resourceFieldRef`` values are left out and listed in
``DockerRun.unresolved`` unless the caller passes them in ``env``); Secrets; configMap,
secret, projected and hostPath volumes and ``subPath`` mounts (these raise
PodSpecError); init and sidecar containers; Pod Security admission; scheduling
(nodeSelector, tolerations, topology spread), replicas, restarts and Job semantics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

import yaml

Manifest = str | Iterable[Mapping[str, Any]]

# Where each workload kind keeps its pod template.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    # KServe's predictor spec is a pod spec with KServe's own fields beside it.
    "InferenceService": ("spec", "predictor"),
}

# Where KServe mounts a predictor's STORAGE_URI (its storage initializer, or the claim itself).
KSERVE_MODEL_MOUNT = "/mnt/models"

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
# $(VAR) references and the $$ escape, as the kubelet expands them in command and args.
_VAR_REF = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


class PodSpecError(ValueError):
    """The manifest has no such workload, or uses something this module cannot translate."""


@dataclass(frozen=True)
class DockerRun:
    """One container's `docker run` invocation, split into its parts.

    ``options`` go before the image, ``args`` after it; ``argv()`` joins them.
    ``env`` is the container's resolved environment (also present in ``options``);
    ``volumes`` maps each named docker volume to its mount path; ``unresolved`` names
    the env variables whose value only a cluster can give (downward API, Secrets).
    """

    options: list[str]
    image: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    volumes: dict[str, str] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        """The arguments that follow `docker run`: options, image, then the command's arguments."""
        return [*self.options, self.image, *self.args]


def load_documents(manifest: Manifest) -> list[dict[str, Any]]:
    """Parse a multi-document YAML string (or pass parsed documents through), dropping empty ones."""
    docs = list(yaml.safe_load_all(manifest)) if isinstance(manifest, str) else list(manifest)
    return [dict(doc) for doc in docs if doc]


def find_workload(docs: Sequence[Mapping[str, Any]], kind: str, name: str) -> Mapping[str, Any]:
    """The one document of ``kind`` named ``name``; PodSpecError if there is none."""
    for doc in docs:
        if doc.get("kind") == kind and doc.get("metadata", {}).get("name") == name:
            return doc
    present = sorted(
        f"{d.get('kind')}/{d.get('metadata', {}).get('name')}" for d in docs if d.get("kind") in POD_SPEC_PATHS
    )
    raise PodSpecError(f"no {kind}/{name} in the manifest; workloads present: {', '.join(present) or 'none'}")


def pod_spec(workload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec inside a workload document of any kind in POD_SPEC_PATHS."""
    kind = workload.get("kind", "")
    if kind not in POD_SPEC_PATHS:
        raise PodSpecError(f"kind {kind!r} has no pod template; supported: {', '.join(POD_SPEC_PATHS)}")
    node: Mapping[str, Any] = workload
    for key in POD_SPEC_PATHS[kind]:
        node = node.get(key) or {}
    return node


def parse_cpu(quantity: str | int | float) -> Decimal:
    """A Kubernetes CPU quantity in cores: "500m" -> 0.5, "2" -> 2."""
    number, suffix = _split_quantity(quantity)
    if suffix == "m":
        return number / 1000
    return number * _multiplier(suffix, quantity)


def parse_bytes(quantity: str | int | float) -> int:
    """A Kubernetes memory/size quantity in bytes: "512Mi" -> 536870912, "1G" -> 10**9."""
    number, suffix = _split_quantity(quantity)
    if suffix == "m":
        raise PodSpecError(f"milli-bytes make no sense as a size: {quantity!r}")
    value = number * _multiplier(suffix, quantity)
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def expand_vars(text: str, env: Mapping[str, str]) -> str:
    """Expand ``$(VAR)`` from ``env`` as the kubelet does: unknown references stay as written,
    and ``$$`` is an escaped ``$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF.sub(replace, text)


def docker_run(
    manifest: Manifest,
    name: str,
    kind: str = "Deployment",
    *,
    container: str | None = None,
    env: Mapping[str, str] | None = None,
    image: str | None = None,
    volume_prefix: str = "",
    gpus: bool = False,
) -> DockerRun:
    """Translate one container of the workload ``kind``/``name`` into a DockerRun.

    ``manifest`` is the output of ``kubectl kustomize`` (a string) or its parsed documents.
    ``container`` picks a container by name (default: the first). ``env`` adds or overrides
    environment variables, before ``$(VAR)`` expansion: use it for values only a cluster
    gives, such as a downward-API NODE_RANK. ``image`` replaces the manifest's image (a
    locally built tag). ``volume_prefix`` is put before each claim name to form the docker
    volume name, so parallel runs keep their volumes apart. ``gpus`` turns an
    ``nvidia.com/gpu`` limit into ``--gpus N`` (off by default: most docker hosts have none).
    """
    docs = load_documents(manifest)
    workload = find_workload(docs, kind, name)
    namespace = workload.get("metadata", {}).get("namespace")
    spec = pod_spec(workload)
    ctr = _pick_container(spec, container, f"{kind}/{name}")

    options: list[str] = []
    options += _security_options(spec.get("securityContext") or {}, ctr.get("securityContext") or {})
    volume_options, volumes = _volume_options(spec, ctr, volume_prefix)
    options += volume_options

    resolved, unresolved = _environment(docs, namespace, ctr)
    for key, value in (env or {}).items():
        resolved[key] = value
        if key in unresolved:
            unresolved.remove(key)
    for key, value in resolved.items():
        options += ["--env", f"{key}={value}"]

    if kind == "InferenceService":
        options += _kserve_storage(resolved, volume_prefix, volumes)
    options += _resource_options(ctr.get("resources") or {}, gpus)
    if ctr.get("workingDir"):
        options += ["--workdir", ctr["workingDir"]]

    command = [expand_vars(str(part), resolved) for part in ctr.get("command") or []]
    arguments = [expand_vars(str(part), resolved) for part in ctr.get("args") or []]
    if command:
        options += ["--entrypoint", command[0]]
        # With an entrypoint given and no args, Kubernetes ignores the image's CMD too.
        tail = command[1:] + arguments
    else:
        tail = arguments

    the_image = image or ctr.get("image")
    if not the_image:
        raise PodSpecError(f"container {ctr.get('name')!r} of {kind}/{name} has no image")
    return DockerRun(options, the_image, tail, resolved, volumes, unresolved)


def docker_run_args(manifest: Manifest, name: str, kind: str = "Deployment", **kwargs: Any) -> list[str]:
    """The arguments after `docker run` for the workload: ``docker_run(...).argv()``."""
    return docker_run(manifest, name, kind, **kwargs).argv()


# --- parts -----------------------------------------------------------------------------


def _pick_container(spec: Mapping[str, Any], name: str | None, where: str) -> Mapping[str, Any]:
    containers: list[Mapping[str, Any]] = spec.get("containers") or []
    if not containers:
        raise PodSpecError(f"{where} has no containers")
    if name is None:
        return containers[0]
    for ctr in containers:
        if ctr.get("name") == name:
            return ctr
    raise PodSpecError(f"{where} has no container {name!r}; it has {[c.get('name') for c in containers]}")


def _security_options(pod: Mapping[str, Any], ctr: Mapping[str, Any]) -> list[str]:
    def pick(key: str) -> Any:
        return ctr.get(key, pod.get(key))

    options: list[str] = []
    uid, gid = pick("runAsUser"), pick("runAsGroup")
    if uid is not None:
        options += ["--user", f"{uid}:{gid}" if gid is not None else str(uid)]
    elif gid is not None:
        raise PodSpecError("runAsGroup without runAsUser cannot be expressed with docker --user")
    groups = [pod["fsGroup"]] if pod.get("fsGroup") is not None else []
    groups += [g for g in pod.get("supplementalGroups") or [] if g not in groups]
    for group in groups:
        options += ["--group-add", str(group)]
    if ctr.get("privileged"):
        options.append("--privileged")
    if ctr.get("readOnlyRootFilesystem"):
        options.append("--read-only")
    capabilities = ctr.get("capabilities") or {}
    for cap in capabilities.get("drop") or []:
        options += ["--cap-drop", str(cap)]
    for cap in capabilities.get("add") or []:
        options += ["--cap-add", str(cap)]
    if ctr.get("allowPrivilegeEscalation") is False:
        options += ["--security-opt", "no-new-privileges"]
    seccomp = (pick("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        options += ["--security-opt", "seccomp=unconfined"]
    elif seccomp == "Localhost":
        raise PodSpecError("a Localhost seccomp profile lives on the node; docker cannot reproduce it")
    return options


def _kserve_storage(env: Mapping[str, str], prefix: str, named: dict[str, str]) -> list[str]:
    """What KServe does for a custom container's ``STORAGE_URI=pvc://<claim>``: the claim,
    mounted read-only at /mnt/models (a sub-path of the claim is not translated)."""
    uri = env.get("STORAGE_URI", "")
    if not uri:
        return []
    if not uri.startswith("pvc://"):
        raise PodSpecError(f"STORAGE_URI {uri!r} is not translated: only pvc://<claim> maps to a Docker volume")
    claim, _, sub_path = uri.removeprefix("pvc://").partition("/")
    if sub_path.strip("/"):
        raise PodSpecError(f"STORAGE_URI {uri!r}: a sub-path of the claim is not translated")
    named[prefix + claim] = KSERVE_MODEL_MOUNT
    return ["--volume", f"{prefix}{claim}:{KSERVE_MODEL_MOUNT}:ro"]


def _volume_options(spec: Mapping[str, Any], ctr: Mapping[str, Any], prefix: str) -> tuple[list[str], dict[str, str]]:
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    options: list[str] = []
    named: dict[str, str] = {}
    for mount in ctr.get("volumeMounts") or []:
        path = mount["mountPath"]
        if mount.get("subPath") or mount.get("subPathExpr"):
            raise PodSpecError(f"subPath mounts are not translated (mount {mount['name']} at {path})")
        volume = volumes.get(mount["name"])
        if volume is None:
            raise PodSpecError(f"mount {mount['name']!r} refers to no volume of the pod")
        if "emptyDir" in volume:
            limit = (volume["emptyDir"] or {}).get("sizeLimit")
            size = parse_bytes(limit) if limit is not None else None
            if path == "/dev/shm":
                options += ["--shm-size", str(size if size is not None else 64 * 2**20)]
            elif (volume["emptyDir"] or {}).get("medium") == "Memory":
                opts = "rw,exec,mode=1777" + (f",size={size}" if size is not None else "")
                options += ["--tmpfs", f"{path}:{opts}"]
            else:
                # A disk-backed emptyDir is a fresh, empty, writable directory: a new named
                # volume (Docker gives it the image directory's owner, as fsGroup would).
                docker_volume = f"{prefix}emptydir-{mount['name']}"
                options += ["--volume", f"{docker_volume}:{path}"]
                named[docker_volume] = path
        elif "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]
            docker_volume = prefix + claim["claimName"]
            read_only = bool(mount.get("readOnly") or claim.get("readOnly"))
            options += ["--volume", f"{docker_volume}:{path}" + (":ro" if read_only else "")]
            named[docker_volume] = path
        else:
            kinds = sorted(set(volume) - {"name"})
            raise PodSpecError(f"volume {mount['name']!r} is of a kind not translated: {kinds}")
    return options, named


def _environment(
    docs: Sequence[Mapping[str, Any]], namespace: str | None, ctr: Mapping[str, Any]
) -> tuple[dict[str, str], list[str]]:
    """The container's env as Kubernetes builds it: envFrom first, then env (which wins)."""
    resolved: dict[str, str] = {}
    unresolved: list[str] = []
    for source in ctr.get("envFrom") or []:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            data = _config_map(docs, namespace, ref["name"], optional=bool(ref.get("optional")))
            for key, value in data.items():
                resolved[prefix + key] = str(value)
        elif "secretRef" in source:
            unresolved.append(f"{prefix}* (Secret {source['secretRef'].get('name')})")
    for var in ctr.get("env") or []:
        key = var["name"]
        if "value" in var:
            resolved[key] = expand_vars(str(var["value"]), resolved)
            continue
        ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
        if ref is not None:
            data = _config_map(docs, namespace, ref["name"], optional=bool(ref.get("optional")))
            if ref["key"] in data:
                resolved[key] = str(data[ref["key"]])
                continue
            if not ref.get("optional"):
                raise PodSpecError(f"ConfigMap {ref['name']} has no key {ref['key']!r} (env {key})")
            continue
        resolved.pop(key, None)
        unresolved.append(key)
    return resolved, unresolved


def _config_map(
    docs: Sequence[Mapping[str, Any]], namespace: str | None, name: str, *, optional: bool
) -> Mapping[str, Any]:
    for doc in docs:
        meta = doc.get("metadata", {})
        if doc.get("kind") == "ConfigMap" and meta.get("name") == name and meta.get("namespace") == namespace:
            return doc.get("data") or {}
    if optional:
        return {}
    raise PodSpecError(f"ConfigMap {name} (namespace {namespace}) is referenced but not in the manifest")


def _resource_options(resources: Mapping[str, Any], gpus: bool) -> list[str]:
    limits = resources.get("limits") or {}
    options: list[str] = []
    if "cpu" in limits:
        options += ["--cpus", _decimal_text(parse_cpu(limits["cpu"]))]
    if "memory" in limits:
        options += ["--memory", str(parse_bytes(limits["memory"]))]
    if gpus and "nvidia.com/gpu" in limits:
        options += ["--gpus", str(int(limits["nvidia.com/gpu"]))]
    return options


def _split_quantity(quantity: str | int | float) -> tuple[Decimal, str]:
    match = _QUANTITY.match(str(quantity).strip())
    if not match:
        raise PodSpecError(f"not a Kubernetes quantity: {quantity!r}")
    return Decimal(match.group(1)), match.group(2) or ""


def _multiplier(suffix: str, quantity: object) -> int:
    if not suffix:
        return 1
    if suffix in _BINARY_SUFFIXES:
        return _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return _DECIMAL_SUFFIXES[suffix]
    raise PodSpecError(f"unknown quantity suffix in {quantity!r}")


def _decimal_text(value: Decimal) -> str:
    return format(value.normalize(), "f")
