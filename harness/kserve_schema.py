"""KServe custom resources checked against KServe's own API model classes.

kubernetes-validate has schemas for the built-in kinds only (it merely warns about any
other), so the overlay check hands documents of the ``serving.kserve.io`` group here. Each is checked
against the classes the ``kserve`` package generates from KServe's OpenAPI schema
(``kserve.models.V1beta1InferenceService`` for ``serving.kserve.io/v1beta1``
``InferenceService``), and the Kubernetes types they embed against
``kubernetes.client.models`` (``V1Container``, ``V1Probe``...). Strictly:

* every key must be a field of its class: one of the values of its ``attribute_map``;
* every value must have its field's type, from ``openapi_types``: ``str``, ``int`` (a bool
  is not one), ``float``, ``bool``, ``object`` (anything: int-or-string ports, free-form
  values), ``list[T]``, ``dict(str, T)``, another class, or a resource quantity (a number
  or a string such as ``500m``: ``ResourceQuantity`` and the resource maps of
  ``V1ResourceRequirements``);
* every required field must be present. KServe's classes say which by their own
  client-side validation (a setter raises ValueError for None), the Kubernetes client's
  (pydantic) by their field definitions.

``problems(doc)`` gives one ``'<field path>: <rule>'`` per problem, for example
``'spec.predictor.containers[0].portz: unknown field (V1Container has no such key)'``.
``kserve`` takes seconds to import, so it is imported on the first call only; if it cannot
be, ``KServeUnavailable`` says why, and the caller fails the check rather than pass it.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import re
from collections.abc import Mapping
from typing import Any

from .errors import HarnessError

GROUP = "serving.kserve.io"

_LIST = re.compile(r"[lL]ist\[(.+)\]")
_DICT = re.compile(r"dict\(str, (.+)\)|Dict\[str, (.+)\]")
# KServe's names for Kubernetes types, e.g. K8sIoApiAppsV1DeploymentStrategy: V1DeploymentStrategy.
_K8S_ALIAS = re.compile(r"K8sIoApi[A-Z][a-z]+(V\d+(?:alpha\d+|beta\d+)?[A-Z]\w*)")
_QUANTITY = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?")
_QUANTITY_TYPES = {"ResourceQuantity", "V1beta1MetricQuantity"}
# Fields the Kubernetes client types as strings that hold quantities (a number is fine too).
_QUANTITY_FIELDS = {
    ("V1ResourceRequirements", "limits"),
    ("V1ResourceRequirements", "requests"),
    ("V1VolumeResourceRequirements", "limits"),
    ("V1VolumeResourceRequirements", "requests"),
    ("V1EmptyDirVolumeSource", "size_limit"),
}
_PRIMITIVES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "datetime": (str, datetime.datetime),
    "date": (str, datetime.date),
}


def version() -> str:
    """The installed kserve's version (its classes are the schema), or "?" without one."""
    try:
        return importlib.metadata.version("kserve")
    except importlib.metadata.PackageNotFoundError:
        return "?"


class KServeUnavailable(HarnessError):
    """The ``kserve`` package, whose classes are the schema, cannot be imported."""


def is_kserve(doc: Any) -> bool:
    """Whether a parsed YAML document is a resource of KServe's API group."""
    return isinstance(doc, Mapping) and str(doc.get("apiVersion", "")).startswith(GROUP + "/")


def problems(doc: Mapping[str, Any]) -> list[str]:
    """Every problem of one KServe document, each ``'<field path>: <rule>'``; [] if valid.

    Raises KServeUnavailable when ``kserve`` (or ``kubernetes``) cannot be imported."""
    version = str(doc.get("apiVersion", "")).removeprefix(GROUP + "/")
    name = version[:1].upper() + version[1:] + str(doc.get("kind", ""))
    if _resolve(name) is None:
        return [f"apiVersion, kind: kserve {version()} has no class {name} for {doc.get('apiVersion')}"]
    found: list[str] = []
    _check(doc, name, "", found)
    return found


@functools.cache
def _modules() -> tuple[Any, Any]:
    try:
        import kserve.models
        import kubernetes.client.models
    except Exception as exc:  # an ImportError, or any error while the package loads
        raise KServeUnavailable(
            f"cannot check KServe resources: importing kserve failed ({type(exc).__name__}: {exc}); "
            "install the kserve package (the nox sessions install the version noxfile.py pins)"
        ) from exc
    return kserve.models, kubernetes.client.models


def _resolve(type_name: str) -> type | None:
    """The class named ``type_name`` in kserve's models, else in the Kubernetes client's."""
    alias = _K8S_ALIAS.fullmatch(type_name)
    name = alias.group(1) if alias else type_name
    kserve_models, kubernetes_models = _modules()
    return getattr(kserve_models, name, None) or getattr(kubernetes_models, name, None)


@functools.cache
def _required(cls: type) -> frozenset[str]:
    """The attributes of ``cls`` that must be set."""
    fields = getattr(cls, "model_fields", None)
    if fields is not None:  # the Kubernetes client: pydantic models
        return frozenset(attr for attr, field in fields.items() if field.is_required())
    # kserve: each setter of a required field raises ValueError for None.
    required = set()
    for attr in cls.openapi_types:
        try:
            cls(**{other: "set" for other in cls.openapi_types if other != attr})
        except ValueError:
            required.add(attr)
    return frozenset(required)


def _kind(value: Any) -> str:
    return f"{type(value).__name__} ({value!r:.40})"


def _check(value: Any, type_name: str, path: str, found: list[str]) -> None:
    """Append to ``found`` each problem of ``value`` against ``type_name`` at ``path``."""
    if value is None:
        return  # an explicit null is an unset field
    if match := _LIST.fullmatch(type_name):
        if not isinstance(value, list):
            found.append(f"{path}: expected a list, got {_kind(value)}")
            return
        for n, item in enumerate(value):
            _check(item, match.group(1), f"{path}[{n}]", found)
    elif match := _DICT.fullmatch(type_name):
        if not isinstance(value, Mapping):
            found.append(f"{path}: expected a mapping, got {_kind(value)}")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                found.append(f"{path}: key {key!r} is not a string")
            _check(item, match.group(1) or match.group(2), f"{path}[{key}]", found)
    elif type_name == "object":
        return
    elif type_name in _QUANTITY_TYPES:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number and not (isinstance(value, str) and _QUANTITY.fullmatch(value)):
            found.append(f"{path}: expected a quantity (a number, or a string such as 500m or 1Gi), got {_kind(value)}")
    elif type_name in _PRIMITIVES:
        if not isinstance(value, _PRIMITIVES[type_name]) or (isinstance(value, bool) and type_name != "bool"):
            found.append(f"{path}: expected {type_name}, got {_kind(value)}")
    else:
        _check_model(value, type_name, path, found)


def _check_model(value: Any, type_name: str, path: str, found: list[str]) -> None:
    cls = _resolve(type_name)
    if cls is None:
        found.append(f"{path}: kserve {version()} has no class {type_name} to check this against")
        return
    if not isinstance(value, Mapping):
        found.append(f"{path}: expected a mapping ({cls.__name__}), got {_kind(value)}")
        return
    attrs = {key: attr for attr, key in cls.attribute_map.items()}
    prefix = f"{path}." if path else ""
    for key, item in value.items():
        attr = attrs.get(key)
        if attr is None:
            found.append(f"{prefix}{key}: unknown field ({cls.__name__} has no such key)")
            continue
        field_type = cls.openapi_types[attr]
        if (cls.__name__, attr) in _QUANTITY_FIELDS:
            field_type = "dict(str, ResourceQuantity)" if _DICT.fullmatch(field_type) else "ResourceQuantity"
        _check(item, field_type, prefix + key, found)
    for attr in sorted(_required(cls)):
        key = cls.attribute_map[attr]
        if value.get(key) is None:
            found.append(f"{prefix}{key}: required field missing ({cls.__name__})")
