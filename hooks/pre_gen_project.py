"""Validate the answers before anything is generated.

This mirrors harness/options.py exactly (CHOICES, RULES, FIELDS, RESERVED_PACKAGE_NAMES and
the checks); tests/unit/test_options.py proves the two agree. It runs inside cookiecutter,
which cannot import the harness, and uses no network, Docker or git.
On a bad answer it prints one line per problem and exits 1; cookiecutter then removes the
half-made project directory, so nothing is left on disk.
"""

from __future__ import annotations

import json
import keyword
import re
import sys

CHOICES = {
    "python_version": ("3.11", "3.12"),
    "framework": ("pytorch", "tensorflow", "sklearn"),
    "accelerator": ("cpu", "cuda"),
    "distributed_training": ("none", "torchrun"),
    "kubernetes": ("kustomize", "none"),
    "ci": ("github", "none"),
}

# (when, option, forbidden, reason)
RULES = (
    (
        (("framework", "sklearn"),),
        "accelerator",
        "cuda",
        "scikit-learn trains on the CPU only; choose accelerator=cpu or framework=pytorch/tensorflow",
    ),
    (
        (("framework", "tensorflow"),),
        "distributed_training",
        "torchrun",
        "torchrun launches PyTorch only; choose distributed_training=none or framework=pytorch",
    ),
    (
        (("framework", "sklearn"),),
        "distributed_training",
        "torchrun",
        "torchrun launches PyTorch only; choose distributed_training=none or framework=pytorch",
    ),
)

# (name, full-match pattern, rule in words, integer bounds or None)
FIELDS = (
    ("project_name", r"[^\x00-\x1f\"\\]{1,80}", "1-80 characters, no quotes, backslashes or control characters", None),
    (
        "project_slug",
        r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a DNS-1123 label: lowercase letters, digits and '-', "
        "starting with a letter, ending with a letter or digit, at most 63 characters",
        None,
    ),
    (
        "package_name",
        r"[a-z][a-z0-9_]{0,62}",
        "a lowercase Python identifier: letters, digits and '_', starting with a letter",
        None,
    ),
    ("description", r"[^\x00-\x1f\"\\]{0,200}", "one line of at most 200 characters, no quotes or backslashes", None),
    ("author_name", r"[^\x00-\x1f\"\\<>]{1,80}", "1-80 characters, no quotes, angle brackets or backslashes", None),
    ("author_email", r"[^@\s\"<>]+@[^@\s\"<>]+\.[^@\s\"<>]+", "an e-mail address such as you@example.com", None),
    (
        "version",
        r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)",
        "MAJOR.MINOR.PATCH, e.g. 0.1.0 (a valid PEP 440 version and OCI tag)",
        None,
    ),
    (
        "image_registry",
        r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*",
        "an OCI registry host with an optional port and namespace, e.g. ghcr.io/example",
        None,
    ),
    (
        "image_name",
        r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*",
        "an OCI repository path: lowercase letters, digits and single '.', '_' or '-' separators",
        None,
    ),
    ("serve_port", r"[0-9]{1,5}", "an integer from 1024 to 65535", (1024, 65535)),
    ("serve_replicas", r"[0-9]{1,2}", "an integer from 1 to 20", (1, 20)),
)

RESERVED_PACKAGE_NAMES = frozenset(
    {
        "test",
        "tests",
        "src",
        "data",
        "models",
        "serve",
        "train",
        "torch",
        "tensorflow",
        "keras",
        "sklearn",
        "numpy",
        "onnx",
        "onnxruntime",
        "fastapi",
        "uvicorn",
        "starlette",
        "pydantic",
        "json",
        "typing",
        "logging",
        "os",
        "sys",
        "io",
        "time",
        "signal",
        "random",
        "string",
        "types",
        "email",
        "http",
        "site",
    }
)


def field_errors(answers):
    messages = []
    for name, pattern, rule, bounds in FIELDS:
        if name not in answers:
            continue
        value = str(answers[name])
        ok = re.fullmatch(pattern, value) is not None
        if ok and bounds:
            ok = bounds[0] <= int(value) <= bounds[1]
        if not ok:
            messages.append(f"{name}={value!r} is invalid: must be {rule}")
        elif name == "package_name" and (keyword.iskeyword(value) or value in RESERVED_PACKAGE_NAMES):
            messages.append(
                f"{name}={value!r} is invalid: it is a Python keyword or shadows a module "
                "the project imports; pick another name"
            )
    image = f"{answers.get('image_registry', '')}/{answers.get('image_name', '')}"
    if not messages and "image_registry" in answers and len(image) > 255:
        messages.append(f"image_registry/image_name={image!r} is invalid: must be at most 255 characters")
    return messages


def violations(answers):
    messages = []
    for name, allowed in CHOICES.items():
        if name in answers and answers[name] not in allowed:
            messages.append(f"{name}={answers[name]!r} is not one of {', '.join(allowed)}")
    for when, option, forbidden, reason in RULES:
        if all(answers.get(k) == v for k, v in when) and answers.get(option) == forbidden:
            given = ", ".join(f"{k}={v}" for k, v in when)
            messages.append(f"{option}={forbidden} is not allowed with {given}: {reason}")
    return messages


def problems(answers):
    return field_errors(answers) + violations(answers)


def main(answers):
    found = problems(answers)
    for message in found:
        print(f"ERROR: {message}", file=sys.stderr)
    if found:
        print("Nothing was generated. Run cookiecutter again with corrected answers.", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
