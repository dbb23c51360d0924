"""What `nox -s demo` tells the user to run next works, pasted exactly as printed.

The lines come from `harness.demo.next_steps`, the function the demo prints; they run in
bash with the docker client on PATH, as a user's terminal would run them: train with
compose, serve replicas behind the load balancer, `curl` a digit, then remove everything.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from harness import demo, smoke
from harness.engine import Engine
from harness.pipeline import prepare


@pytest.mark.demo
def test_the_demos_closing_lines_train_serve_answer_and_clean_up(engine: Engine, variant: dict[str, str]) -> None:
    # The demo's own build: the compose tags (<repo>:<version>-<target>) are this variant's
    # again, whatever other variants the session built since (cached: seconds).
    images = prepare(engine, variant, targets=demo.COMPOSE_TARGETS)
    (images.project / demo.SAMPLE).write_bytes(smoke.sample_png(engine, images))
    lines = demo.next_steps(images)
    cd, settings, down = lines[0], lines[1], lines[-1]
    assert lines[2:-1] == [
        "docker compose --profile train run --rm train",
        "docker compose up -d --wait",
        f"curl -F files=@{demo.SAMPLE} http://localhost:8000/v1/predict",
    ]
    try:
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(lines[:-1])],
            capture_output=True,
            text=True,
            timeout=smoke.TRAIN_TIMEOUT + 600,
            check=False,
        )
        assert proc.returncode == 0, f"the printed lines failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        answer = json.loads(proc.stdout.strip().splitlines()[-1])
        assert answer["predictions"][0]["top_k"][0]["label"] in {str(d) for d in range(10)}, answer
    finally:
        cleanup = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", f"{cd}\n{settings}\n{down}"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert cleanup.returncode == 0, cleanup.stderr[-2000:]
    project = images.project.name  # compose.yaml names the project after the slug, like its folder
    left = engine.run("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={project}").stdout
    assert left.split() == [], f"`{down}` left volumes behind: {left.split()}"
    running = engine.run("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}").stdout
    assert running.split() == [], f"`{down}` left containers behind: {running.split()}"
