"""Prune the files that the chosen options exclude, and put the project's own entry of
uv.lock where uv puts it. Nothing else is written."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

# (option, value that KEEPS the paths, paths relative to the project root)
# {pkg} stands for the package directory under src/.
KEEP_ONLY_WHEN = (
    ("framework", "pytorch", ["src/{pkg}/models/torch_cnn.py"]),
    (
        "framework",
        "tensorflow",
        ["src/{pkg}/models/keras_cnn.py", "src/{pkg}/models/keras_backbones.py", "tests/test_backbones.py"],
    ),
    ("framework", "sklearn", ["src/{pkg}/models/sklearn_pipeline.py"]),
    (
        "distributed_training",
        "torchrun",
        ["src/{pkg}/distributed.py", "tests/test_distributed.py", "k8s/base/train-distributed.yaml"],
    ),
    ("distributed_training", "none", ["k8s/base/train-job.yaml"]),
    ("kubernetes", "kustomize", ["k8s", "scripts/kind-deploy.sh"]),
    ("accelerator", "cuda", ["k8s/overlays/gpu"]),
    ("ci", "github", [".github"]),
)


def paths_to_prune(answers):
    pkg = answers["package_name"]
    for option, keep_value, paths in KEEP_ONLY_WHEN:
        if answers[option] != keep_value:
            yield from (path.format(pkg=pkg) for path in paths)


def prune(root, answers):
    for relative in paths_to_prune(answers):
        path = root / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


LOCK_ENTRY = "\n[[package]]\n"


def sort_lock(text):
    """uv.lock's text with its ``[[package]]`` entries in uv's order: by name.

    The template's lock holds the project's entry where the name of the project that made
    it sorts; the answers give it another name.
    """
    head, *entries = text.split(LOCK_ENTRY)
    entries.sort(key=lambda entry: entry.split("\n", 1)[0])
    return LOCK_ENTRY.join([head, *entries])


def place_lock_entry(root):
    lock = root / "uv.lock"
    if lock.is_file():
        lock.write_text(sort_lock(lock.read_text()))


if __name__ == "__main__":
    prune(Path.cwd(), json.loads(r"""{{ cookiecutter | tojson }}"""))
    place_lock_entry(Path.cwd())
    sys.exit(0)
