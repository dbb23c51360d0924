"""Render template variants with cookiecutter, deterministically and offline."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from .errors import HarnessError
from .options import FREE_TEXT, ROOT, Variant, literal, problems, variant_id


class RenderError(HarnessError):
    """A variant could not be rendered; the message says which and why."""


def render(variant: Mapping[str, str], output_dir: Path, **answers: str) -> Path:
    """Render one variant into ``output_dir`` and return the generated project directory.

    Answers are validated first with the same rules as the pre-gen hook, so a bad variant
    fails with one clear message instead of a cookiecutter traceback. An existing project
    directory is replaced; a failed render leaves nothing behind.
    """
    # Imported here so `harness.options` stays importable without cookiecutter installed.
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.main import cookiecutter

    context = {**variant, **answers}
    found = problems(context)
    if found:
        raise RenderError(f"variant {dict(variant)} is invalid: {'; '.join(found)}")
    context = {name: literal(value) if name in FREE_TEXT else value for name, value in context.items()}
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".render-", dir=output_dir))
    try:
        project = Path(cookiecutter(str(ROOT), no_input=True, extra_context=context, output_dir=str(staging)))
        target = output_dir / project.name
        if target.exists():
            shutil.rmtree(target)
        project.rename(target)
        return target
    except (CookiecutterException, ValueError) as exc:
        raise RenderError(f"rendering {variant_id(variant)} failed: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def render_many(variants: Iterable[Variant], output_root: Path) -> dict[str, Path]:
    """Render each variant into ``output_root/<variant id>/``; return id -> project dir.

    Renders run in parallel processes (cookiecutter is pure Python and CPU-bound).
    """
    variants = list(variants)
    targets = [Path(output_root) / variant_id(v) for v in variants]
    with ProcessPoolExecutor(max_workers=min(len(variants), os.cpu_count() or 1) or 1) as pool:
        projects = list(pool.map(render, variants, targets))
    return {variant_id(v): p for v, p in zip(variants, projects, strict=True)}


def tree_digest(root: Path) -> str:
    """A sha256 over every file's relative path, mode bit for execute, and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(b"x" if path.stat().st_mode & 0o111 else b"-")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def expected_files(variant: Mapping[str, str], package_name: str) -> set[str]:
    """The files a render of ``variant`` must contain: the template's, minus what the hook prunes."""
    from .hooks import paths_to_prune

    template = ROOT / "{{cookiecutter.project_slug}}"
    files = {
        p.relative_to(template).as_posix().replace("{{cookiecutter.package_name}}", package_name)
        for p in template.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }
    pruned = list(paths_to_prune({**variant, "package_name": package_name}))
    return {f for f in files if not any(f == p or f.startswith(p + "/") for p in pruned)}
