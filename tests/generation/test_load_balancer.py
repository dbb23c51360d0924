"""The compose load balancer (nginx) never multiplies a replica's overload.

Read from the rendered docker/lb/nginx.conf (the generated project's test image does not
carry it): a POST already sent is passed to another replica only when its replica could not
be reached, never on a 503 or 502 answer, and a read timeout is never retried because the
retry window closes before the read timeout can fire. The behaviour itself, a replica
killed under load with no failed request, is tests/docker/test_variant_images.py's.
"""

from __future__ import annotations

import re
from pathlib import Path


def directives(conf: str, name: str) -> list[list[str]]:
    """The arguments of every ``name ...;`` line of an nginx configuration."""
    lines = (line.split("#")[0].replace(";", " ").split() for line in conf.splitlines())
    return [words[1:] for words in lines if words[:1] == [name]]


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", value).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[unit]


def test_posts_are_retried_only_when_a_replica_cannot_be_reached(default_project: Path) -> None:
    conf = (default_project / "docker" / "lb" / "nginx.conf").read_text()
    retries = directives(conf, "proxy_next_upstream")
    assert retries, "nginx.conf sets no proxy_next_upstream"
    for conditions in map(set, retries):
        assert "error" in conditions, conditions
        if "non_idempotent" in conditions:
            assert conditions <= {"error", "timeout", "non_idempotent"}, conditions
    [[window]] = directives(conf, "proxy_next_upstream_timeout")
    [[read]] = directives(conf, "proxy_read_timeout")
    assert seconds(window) < seconds(read), "a read timeout could be retried: the inference would run twice"
