"""Validate the answers before anything is generated: the one declaration of the rules.

cookiecutter.json declares the options: a list is a choice (its first entry the default),
a string a free-text answer. This file declares what cookiecutter.json cannot: the rule
each free-text answer follows (FIELDS; any other free-text answer follows TEXT), the choice
combinations that are not allowed (RULES) and the package names that would shadow a
module the project imports. harness/options.py loads this file and derives the valid and
invalid variants and their messages from it, so adding an option is one edit to
cookiecutter.json, plus a line here when it has a rule.

It runs inside cookiecutter with the standard library only, and uses no network, Docker or
git. On a bad answer it prints one line per problem (field, value, rule) and exits 1;
cookiecutter then removes the half-made project directory, so nothing is left on disk.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from typing import NamedTuple


class Field(NamedTuple):
    """A free-text rule: a full-match pattern, the rule in words, optional integer bounds.

    ``printable``: every character must be printable (``str.isprintable``: no control,
    format or line/paragraph separator characters), which keeps the answer on one line in
    every file format it lands in; the generated files quote it for each format.
    """

    pattern: str
    rule: str
    bounds: tuple[int, int] | None = None
    printable: bool = False


class Rule(NamedTuple):
    """When every ``when`` option has its value, ``option`` must not be ``forbidden``."""

    when: tuple[tuple[str, str], ...]
    option: str
    forbidden: str
    reason: str


# Any free-text answer not named below: one line of printable text. No backslash: hadolint
# (the generated project's Dockerfile linter) misreads an escaped one before a quote.
TEXT = Field(r"[^\\]{0,200}", "one line of at most 200 printable characters, no backslash", printable=True)

# Names end up as directories, Python packages, Kubernetes objects (DNS-1123 labels: at
# most 63 characters) and OCI image references; text is quoted for each file format.
FIELDS: dict[str, Field] = {
    "project_name": Field(r"[^\\]{1,80}", "1-80 printable characters on one line, no backslash", printable=True),
    "project_slug": Field(
        r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?",
        "a DNS-1123 label: lowercase letters, digits and '-', "
        "starting with a letter, ending with a letter or digit, at most 63 characters",
    ),
    "package_name": Field(
        r"[a-z][a-z0-9_]{0,62}", "a lowercase Python identifier: letters, digits and '_', starting with a letter"
    ),
    "description": TEXT,
    # An e-mail header's display name ("Name <address>") cannot hold these unquoted.
    "author_name": Field(r'[^"\\<>,]{1,80}', '1-80 printable characters, none of " \\ < > ,', printable=True),
    "author_email": Field(r'[^@\s"<>,\\]+@[^@\s"<>,\\]+\.[^@\s"<>,\\]+', "an e-mail address such as you@example.com"),
    "version": Field(
        r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)",
        "MAJOR.MINOR.PATCH, e.g. 0.1.0 (a valid PEP 440 version and OCI tag)",
    ),
    "image_registry": Field(
        r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*",
        "an OCI registry host with an optional port and namespace, e.g. ghcr.io/example",
    ),
    "image_name": Field(
        r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*",
        "an OCI repository path: lowercase letters, digits and single '.', '_' or '-' separators",
    ),
    "serve_port": Field(r"[0-9]{1,5}", "an integer from 1024 to 65535", (1024, 65535)),
    "serve_replicas": Field(r"[0-9]{1,2}", "an integer from 1 to 20", (1, 20)),
}

# Each rule reads as one sentence; the message names the fields, the values and the fix.
RULES: tuple[Rule, ...] = (
    Rule(
        (("framework", "sklearn"),),
        "accelerator",
        "cuda",
        "scikit-learn trains on the CPU only; choose accelerator=cpu or framework=pytorch/tensorflow",
    ),
    Rule(
        (("framework", "tensorflow"),),
        "distributed_training",
        "torchrun",
        "torchrun launches PyTorch only; choose distributed_training=none or framework=pytorch",
    ),
    Rule(
        (("framework", "sklearn"),),
        "distributed_training",
        "torchrun",
        "torchrun launches PyTorch only; choose distributed_training=none or framework=pytorch",
    ),
)

# Package names that would shadow a dependency or the standard library inside the images.
RESERVED_PACKAGE_NAMES = frozenset(
    {
        *("test", "tests", "src", "data", "models", "serve", "train"),
        *("torch", "tensorflow", "keras", "sklearn", "numpy", "onnx", "onnxruntime"),
        *("fastapi", "uvicorn", "starlette", "pydantic"),
        *("json", "typing", "logging", "os", "sys", "io", "time", "signal", "random", "string", "types"),
        *("email", "http", "site"),
    }
)


def free_text(config: dict) -> list[str]:
    """The free-text options of cookiecutter.json: string values, private keys excluded."""
    return [name for name, value in config.items() if isinstance(value, str) and not name.startswith("_")]


def choices(config: dict) -> dict[str, tuple[str, ...]]:
    """The choice options of cookiecutter.json, each with its values (the default first)."""
    return {
        name: tuple(value) for name, value in config.items() if isinstance(value, list) and not name.startswith("_")
    }


def field_errors(answers: dict) -> list[str]:
    """One message per answer that breaks its rule: field, value and rule.

    Named fields follow FIELDS, every other answer TEXT (a choice's values pass it; whether
    a choice's value is one of its choices is cookiecutter's own check, and ``violations``').
    """
    messages = []
    for name, value in answers.items():
        if name.startswith("_") or not isinstance(value, str):
            continue
        field = FIELDS.get(name, TEXT)
        ok = re.fullmatch(field.pattern, value, re.DOTALL) is not None
        if ok and field.printable:
            ok = value.isprintable()
        if ok and field.bounds:
            ok = field.bounds[0] <= int(value) <= field.bounds[1]
        if not ok:
            messages.append(f"{name}={value!r} is invalid: must be {field.rule}")
        elif name == "package_name" and (keyword.iskeyword(value) or value in RESERVED_PACKAGE_NAMES):
            messages.append(
                f"{name}={value!r} is invalid: it is a Python keyword or shadows a module "
                "the project imports; pick another name"
            )
    image = f"{answers.get('image_registry', '')}/{answers.get('image_name', '')}"
    if not messages and "image_registry" in answers and len(image) > 255:
        messages.append(f"image_registry/image_name={image!r} is invalid: must be at most 255 characters")
    return messages


def violations(answers: dict, allowed_values: dict | None = None) -> list[str]:
    """Messages for every choice (of ``allowed_values``, see ``choices``) and rule the answers
    break (empty when they are valid)."""
    messages = []
    for name, allowed in (allowed_values or {}).items():
        if name in answers and answers[name] not in allowed:
            messages.append(f"{name}={answers[name]!r} is not one of {', '.join(allowed)}")
    for rule in RULES:
        if all(answers.get(k) == v for k, v in rule.when) and answers.get(rule.option) == rule.forbidden:
            given = ", ".join(f"{k}={v}" for k, v in rule.when)
            messages.append(f"{rule.option}={rule.forbidden} is not allowed with {given}: {rule.reason}")
    return messages


def problems(answers: dict, allowed_values: dict | None = None) -> list[str]:
    """Everything wrong with a full set of answers: free-text fields, then choices and rules."""
    return field_errors(answers) + violations(answers, allowed_values)


def main(answers: dict) -> int:
    # cookiecutter (and cruft) accept only listed values for a choice, so the rules are left.
    found = problems(answers)
    for message in found:
        print(f"ERROR: {message}", file=sys.stderr)
    if found:
        print("Nothing was generated. Run cookiecutter again with corrected answers.", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}""")))
