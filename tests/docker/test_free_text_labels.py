"""Free text in the Dockerfile means itself to BuildKit: the image's labels carry it unchanged.

The serve target of a project rendered with adversarial answers is built by BuildKit (the
dependency layers come from the cache) and its OCI description label read back.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import options, pipeline
from harness.engine import Engine

TEXTS = [
    "Prices in ${USD",
    "Costs $5 or $HOME or $(id) or `id`",
    'The "Best" classifier: {{ x }} #1 %s -x',
    "Zoë Łukasz 漢字 🙂 & <b>",
]


@pytest.mark.parametrize("text", TEXTS, ids=lambda t: repr(t)[:20])
def test_the_description_label_round_trips_through_buildkit(engine: Engine, tmp_path: Path, text: str) -> None:
    variant = {**options.default_variant(), "framework": "sklearn"}  # the smallest serve build
    project = pipeline.render_project(engine, variant, tmp_path, project_slug="labels", description=text)
    [result] = pipeline.build_targets(engine, project, ["serve"]).values()
    try:
        labels = json.loads(
            engine.run("image", "inspect", "--format", "{{json .Config.Labels}}", result.image_id).stdout
        )
        assert labels["org.opencontainers.image.description"] == text
    finally:
        engine.run("image", "rm", "-f", *result.tags, check=False)
