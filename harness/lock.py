"""The generated projects' uv locks: made with uv, kept in the template, checked.

A generated project's ``uv.lock`` and its exports ``requirements/{serve,train,test}.txt``
depend on the Python version, the framework and the accelerator only. The template keeps
one set per combination under ``templates/locks/<key>/`` (``key`` such as
``py3.11-pytorch-cpu``); the project's files include them, and the post-gen hook puts the
project's own entry where uv puts it (packages sorted by name).

``make(variant)`` renders a project of that combination, runs ``uv lock`` in it (keeping
the locked versions unless asked to upgrade) and exports each image's requirements with the project's
own ``make requirements``, and writes the results back into the template.

The PyTorch CPU index (https://download.pytorch.org/whl/cpu) cannot be reached from every
machine that must make or check these locks. For the CPU builds of torch, uv is pointed at
a loopback mirror of that index instead (``uv lock --index pytorch-cpu=<mirror>``, uv's
index override), and the mirror's URLs are mapped back to the index's own in the lock, the
workaround of uv issue #6349 ("uv.lock with different index URLs"). The mirror lists the
wheels of ``PYTORCH_CPU_WHEELS`` with their sha256 and serves their metadata (PEP 658)
from a local wheel of the same release; ``uv sync`` through it gets the local file.
"""

from __future__ import annotations

import hashlib
import html
import os
import shutil
import subprocess
import tempfile
import threading
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache, partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from . import progress
from .errors import HarnessError
from .options import ROOT, Variant, answers

LOCKS = ROOT / "templates" / "locks"
# The exports of each lock set (the project's `make requirements` writes them).
EXPORTS = ("serve.txt", "train.txt", "test.txt")
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Where that index's links point (its files are served from this host).
PYTORCH_CPU_FILES = "https://download-r2.pytorch.org/whl/cpu/"
# The CPU wheels of the locked torch for the images' platform, with the sha256 the PyTorch
# CPU index publishes for each (https://download.pytorch.org/whl/cpu/torch/). The cp311
# wheel is the file pip finds on this machine's disk; tests/unit/test_lock.py checks that
# its digest equals this entry.
PYTORCH_CPU_WHEELS = {
    "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl": (
        "6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b"
    ),
    "torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl": (
        "4ca4a9394b0c771238a4f73590fdbbc4debad85ed0fa63d026ae1b085da7d6e2"
    ),
}
# What stands in the template's locks for the answers of the project that made them.
PLACEHOLDERS = {"name": "{{ cookiecutter.project_slug }}", "version": "{{ cookiecutter.version }}"}


class LockError(HarnessError):
    """A lock could not be made or checked; the message names the project and uv's words."""


def key(variant: Mapping[str, str]) -> str:
    """The lock set a variant uses, e.g. ``py3.11-pytorch-cpu``."""
    return f"py{variant['python_version']}-{variant['framework']}-{variant['accelerator']}"


def uses_pytorch_cpu(variant: Mapping[str, str]) -> bool:
    """Whether the variant's lock takes torch from the PyTorch CPU index."""
    return variant["framework"] == "pytorch" and variant["accelerator"] == "cpu"


def uv(*args: str, cwd: Path, python_version: str) -> str:
    """Run ``uv`` in ``cwd`` with a CPython ``python_version`` interpreter; return stdout.

    Raises LockError with uv's own message when it fails or is not installed.
    """
    return _run([uv_binary(), *args], cwd, python_version)


def uv_binary() -> str:
    """uv's executable: the one of this interpreter's ``uv`` package (the nox sessions
    install the bootstrap pin), else the one on PATH. A version manager's shim on PATH
    would follow the project's ``.python-version`` to another Python without uv.

    Raises LockError when neither exists.
    """
    try:
        from uv import find_uv_bin
    except ImportError:
        found = shutil.which("uv")
        if found is None:
            raise LockError(
                "uv is not installed: `pip install -r requirements/bootstrap.txt` (scripts/setup.sh does)"
            ) from None
        return found
    return find_uv_bin()


def _run(cmd: list[str], cwd: Path, python_version: str) -> str:
    """``cmd`` in ``cwd``, uv downloading no Python (``UV_PYTHON_DOWNLOADS=never``), using a
    base CPython ``python_version`` found here and the project's own ``.venv``; LockError
    with its message on failure."""
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": interpreter(python_version)}
    # nox points uv at its session's environment (UV_PROJECT_ENVIRONMENT, UV_PYTHON): uv
    # sync would make that the project's environment, removing the session's own packages.
    for name in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"):
        env.pop(name, None)
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise LockError(f"`{' '.join(cmd)}` failed in {cwd}: {(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc.stdout


@cache
def interpreter(python_version: str) -> str:
    """A base CPython ``python_version`` on this machine (PATH, then pyenv's versions):
    never a virtual environment's, which uv would take as the project's environment and
    sync into.

    Raises LockError saying how to get one (uv locks a project for its own Python).
    """
    pyenv = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser() / "versions"
    candidates = [shutil.which(f"python{python_version}")]
    candidates += sorted(pyenv.glob(f"{python_version}.*/bin/python{python_version}"), reverse=True)
    for candidate in filter(None, candidates):
        found = _base_python(str(candidate))
        if found and found[0] == python_version:
            return found[1]
    raise LockError(
        f"no CPython {python_version} on this machine: the lock of a Python {python_version} project is made "
        f"with that Python (`uv python install {python_version}`, or your system's python{python_version})"
    )


def _base_python(python: str) -> tuple[str, str] | None:
    """(``X.Y``, the base interpreter's path) of ``python``, or None when it does not run."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(getattr(sys, '_base_executable', sys.executable))"
    try:
        out = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    lines = out.stdout.split()
    return (lines[0], lines[1]) if out.returncode == 0 and len(lines) == 2 else None


# --- the PyTorch CPU index, mirrored on loopback --------------------------------------------


def to_mirror(lock_text: str, mirror: str) -> str:
    """The lock with the PyTorch CPU index's URLs replaced by ``mirror``'s (no trailing /)."""
    return lock_text.replace(f'"{PYTORCH_CPU_INDEX}"', f'"{mirror}/"').replace(PYTORCH_CPU_FILES, f"{mirror}/torch/")


def from_mirror(lock_text: str, mirror: str) -> str:
    """The inverse of ``to_mirror``: the lock as it names the PyTorch CPU index itself."""
    return lock_text.replace(f'"{mirror}/"', f'"{PYTORCH_CPU_INDEX}"').replace(f"{mirror}/torch/", PYTORCH_CPU_FILES)


@contextmanager
def pytorch_cpu_mirror(local_wheel: Path) -> Iterator[str]:
    """Serve a PEP 503 index of ``PYTORCH_CPU_WHEELS`` on 127.0.0.1; yield its URL.

    ``local_wheel`` (one of those wheels, checked against its sha256) is served as a file,
    and its METADATA as every listed wheel's metadata (PEP 658): the wheels of one torch
    release share their requirements. Raises LockError for a wheel not in the table or
    whose digest differs from it.
    """
    local_wheel = Path(local_wheel)
    expected = PYTORCH_CPU_WHEELS.get(local_wheel.name)
    if expected is None:
        raise LockError(f"{local_wheel.name} is not one of the PyTorch CPU wheels the locks name")
    digest = hashlib.sha256(local_wheel.read_bytes()).hexdigest()
    if digest != expected:
        raise LockError(f"{local_wheel} has sha256 {digest}, not the PyTorch CPU index's {expected}")
    with tempfile.TemporaryDirectory(prefix="pytorch-cpu-mirror-") as tmp:
        folder = Path(tmp) / "torch"
        folder.mkdir()
        with zipfile.ZipFile(local_wheel) as wheel:
            [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
            metadata = wheel.read(name)
        meta_sha = hashlib.sha256(metadata).hexdigest()
        links = []
        for filename, sha in sorted(PYTORCH_CPU_WHEELS.items()):
            (folder / f"{filename}.metadata").write_bytes(metadata)
            href = filename.replace("+", "%2B")
            links.append(
                f'<a href="{href}#sha256={sha}" data-core-metadata="sha256={meta_sha}" '
                f'data-dist-info-metadata="sha256={meta_sha}">{html.escape(filename)}</a>'
            )
        os.symlink(local_wheel.resolve(), folder / local_wheel.name)
        (folder / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "\n".join(links) + "\n</body></html>\n")
        handler = partial(_QuietHandler, directory=tmp)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def local_pytorch_cpu_wheel(python_version: str) -> Path:
    """The CPU torch wheel for CPython ``python_version``, fetched with the host's pip
    configuration into the harness's wheel cache; LockError when none can be had."""
    from .wheelhouse import WheelhouseError, prefetch_pins

    tag = f"cp{python_version.replace('.', '')}"
    name = f"torch-2.13.0+cpu-{tag}-{tag}-manylinux_2_28_x86_64.whl"
    try:
        folder = prefetch_pins({"torch": "2.13.0"}, python_version)
    except WheelhouseError as exc:
        raise LockError(f"no CPU build of torch 2.13.0 for {tag} on this machine: {exc}") from None
    if not (folder / name).is_file():
        raise LockError(f"{folder} has no {name}: the host's pip found another build of torch 2.13.0")
    return folder / name


@contextmanager
def index_overrides(variant: Mapping[str, str]) -> Iterator[tuple[str | None, list[str]]]:
    """``(mirror URL or None, extra uv arguments)`` for locking or syncing ``variant``.

    Where the lock takes torch from the PyTorch CPU index, a mirror of it runs meanwhile
    (the local cp311 wheel's metadata stands for every listed wheel).
    """
    if not uses_pytorch_cpu(variant):
        yield None, []
        return
    with pytorch_cpu_mirror(local_pytorch_cpu_wheel("3.11")) as mirror:
        yield mirror, ["--index", f"pytorch-cpu={mirror}/"]


# --- making and checking ---------------------------------------------------------------


def template_files(lock_key: str) -> dict[str, Path]:
    """The template's files for one lock set: ``uv.lock`` and each export."""
    folder = LOCKS / lock_key
    return {name: folder / name for name in ("uv.lock", *EXPORTS)}


@contextmanager
def mirrored(project: Path, variant: Mapping[str, str]) -> Iterator[list[str]]:
    """While open: the project's lock names the PyTorch CPU mirror (where the variant
    uses that index); yields the uv arguments that point the index there. On leaving, the
    lock names the index itself again, whatever uv wrote meanwhile."""
    lock = Path(project) / "uv.lock"
    with index_overrides(variant) as (mirror, extra):
        if mirror and lock.is_file():
            lock.write_text(to_mirror(lock.read_text(), mirror))
        try:
            yield extra
        finally:
            if mirror and lock.is_file():
                lock.write_text(from_mirror(lock.read_text(), mirror))


def lock_project(project: Path, variant: Mapping[str, str], *, check: bool = False, upgrade: bool = False) -> None:
    """``uv lock`` in a rendered project (``--locked`` with ``check``: fail if stale).

    Raises LockError with uv's message.
    """
    with mirrored(project, variant) as extra:
        flags = ["--locked"] if check else ["--upgrade"] if upgrade else []
        uv("lock", *flags, *extra, cwd=project, python_version=variant["python_version"])


def sync(project: Path, variant: Mapping[str, str]) -> Path:
    """``uv sync --frozen`` in a rendered project: its ``.venv`` with exactly the locked
    default groups and the package editable; returns the venv's python. LockError on failure."""
    with mirrored(project, variant) as extra:
        uv("sync", "--frozen", *extra, cwd=project, python_version=variant["python_version"])
    return Path(project) / ".venv" / "bin" / "python"


def export(project: Path, variant: Mapping[str, str]) -> dict[str, str]:
    """``{file name: text}`` of the project's ``requirements/*.txt`` after ``make
    requirements``: the project's Makefile declares which groups each image installs."""
    _run(["make", "--no-print-directory", "requirements", f"UV={uv_binary()}"], project, variant["python_version"])
    return {path.name: path.read_text() for path in sorted((Path(project) / "requirements").glob("*.txt"))}


def templatize(lock_text: str, name: str, version: str) -> str:
    """The lock with the making project's name and version as the template's placeholders.

    Raises LockError when the lock has no entry for that project.
    """
    entry = f'[[package]]\nname = "{name}"\nversion = "{version}"\n'
    if entry not in lock_text:
        raise LockError(f"the lock has no entry for the project {name} {version}")
    placeholder = f'[[package]]\nname = "{PLACEHOLDERS["name"]}"\nversion = "{PLACEHOLDERS["version"]}"\n'
    return lock_text.replace(entry, placeholder)


def make(variant: Variant, *, upgrade: bool = False) -> Path:
    """Lock and export one combination into ``templates/locks/<key>/``; return that folder.

    Renders the variant with the default answers, locks it (the template's current lock
    first, so versions stay unless ``upgrade``) and exports each image's requirements.
    """
    from .render import render

    lock_key = key(variant)
    with tempfile.TemporaryDirectory(prefix=f"lock-{lock_key}-") as tmp:
        project = render(variant, Path(tmp))
        if not template_files(lock_key)["uv.lock"].is_file():
            (project / "uv.lock").unlink(missing_ok=True)
        with progress.step(f"locking {lock_key}"):
            lock_project(project, variant, upgrade=upgrade)
            exports = export(project, variant)
        context = answers(variant)
        # The render's folder is named by the project's slug, as is its entry in the lock.
        text = templatize((project / "uv.lock").read_text(), project.name, context["version"])
        folder = LOCKS / lock_key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "uv.lock").write_text(text)
        for name, body in exports.items():
            (folder / name).write_text(body)
    return folder
