"""Prune the files that the chosen options exclude. It only deletes; it never writes."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

# (option, value that KEEPS the paths, paths relative to the project root)
# {pkg} stands for the package directory under src/.
KEEP_ONLY_WHEN = (
    ("framework", "pytorch", ["src/{pkg}/models/torch_cnn.py"]),
    ("framework", "tensorflow", ["src/{pkg}/models/keras_cnn.py"]),
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


if __name__ == "__main__":
    prune(Path.cwd(), json.loads(r"""{{ cookiecutter | tojson }}"""))
    sys.exit(0)
