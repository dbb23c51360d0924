"""The post-generation hook's prune map, for the harness's exact file-set check."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .options import load_hook


def paths_to_prune(answers: Mapping[str, str]) -> Iterator[str]:
    """The paths (relative to the project) that the post-gen hook deletes for ``answers``."""
    return load_hook("post_gen_project").paths_to_prune(answers)
