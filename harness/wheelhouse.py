"""Prefetch the wheels a rendered project's lock pins, for offline Docker builds.

The wheels are downloaded on the host (where the pip configuration knows the local wheel
directories, indexes and the TLS proxy's CA) into a cache shared by every run and every
variant, e.g. ``~/.cache/ml-container-template/wheelhouse/cp311``. A build then gets the
wheels of its own locks hard-linked into ``<project>/.wheelhouse/``, which the Dockerfile
bind-mounts into its ``pip install`` steps only (``--no-index`` then needs no network).

A second run finds every pinned wheel in the cache and starts no pip at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from . import progress
from .errors import HarnessError

DEFAULT_CACHE = Path(os.environ.get("ML_TEMPLATE_CACHE", "~/.cache/ml-container-template")).expanduser()
# glibc of the oldest supported base (Debian bookworm: 2.36); older manylinux tags all fit.
MAX_GLIBC_MINOR = 36


class WheelhouseError(HarnessError):
    """Wheels could not be fetched; the message names the packages and the log."""


def cache_dir(python_version: str = "3.11", root: Path = DEFAULT_CACHE) -> Path:
    """The shared wheel cache for one Python version, e.g. ``.../wheelhouse/cp311``."""
    return root / "wheelhouse" / f"cp{python_version.replace('.', '')}"


def lock_files(project_dir: Path) -> list[Path]:
    """The lock of a rendered project (``uv.lock``), as a list: empty without one."""
    return [p for p in [Path(project_dir) / "uv.lock"] if p.is_file()]


def read_pins(files: Iterable[Path]) -> dict[str, str]:
    """``{canonical name: version}`` from uv locks and requirement files.

    A ``uv.lock`` gives every package it takes from an index (the project itself and
    path or Git sources are not wheels to fetch); the locks here are made for one Python
    and platform, so each package has one version. In a requirements file each line is
    parsed as a PEP 508 requirement (``packaging``): extras and environment markers are
    allowed, comments and blank lines skipped, ``-r other.txt`` followed. Versions are
    public (``2.13.0+cpu`` gives ``2.13.0``). Raises WheelhouseError for a line that is
    not exactly one ``name==version`` pin, or a lock with two versions of one package.
    """
    pins: dict[str, str] = {}
    for path in files:
        if Path(path).name == "uv.lock":
            pins.update(_lock_pins(Path(path)))
            continue
        for raw in Path(path).read_text().splitlines():
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("-r ", "--requirement ")):
                pins.update(read_pins([Path(path).parent / line.split(None, 1)[1]]))
                continue
            try:
                requirement = Requirement(line)
            except InvalidRequirement as exc:
                raise WheelhouseError(f"{path}: not a requirement: {raw!r} ({exc})") from None
            exact = [spec for spec in requirement.specifier if spec.operator == "=="]
            if len(exact) != 1 or len(requirement.specifier) != 1 or "*" in exact[0].version:
                raise WheelhouseError(f"{path}: not a pin (name==version): {raw!r}")
            pins[canonicalize_name(requirement.name)] = Version(exact[0].version).public
    return pins


def _lock_pins(path: Path) -> dict[str, str]:
    import tomllib

    pins: dict[str, str] = {}
    for package in tomllib.loads(path.read_text()).get("package", []):
        if "registry" not in package.get("source", {}):
            continue
        name, version = canonicalize_name(package["name"]), Version(package["version"]).public
        if pins.setdefault(name, version) != version:
            raise WheelhouseError(f"{path}: {name} is locked at two versions ({pins[name]}, {version})")
    return pins


def missing(pins: dict[str, str], wheel_dir: Path, python_version: str = "3.11") -> dict[str, str]:
    """The pins with no matching, compatible wheel in ``wheel_dir``."""
    have = {(name, version) for name, version, _ in _wheels(wheel_dir, python_version)}
    return {n: v for n, v in pins.items() if (n, v) not in have}


def prefetch(
    lock_paths: Iterable[Path],
    python_version: str = "3.11",
    *,
    root: Path = DEFAULT_CACHE,
    log: Path | None = None,
    timeout: float = 3600,
) -> Path:
    """Download every pinned wheel of ``lock_paths`` (the union, e.g. of several
    variants' ``uv.lock``) into the shared cache for ``python_version``; return the cache
    directory. See ``prefetch_pins``.
    """
    return prefetch_pins(read_pins(lock_paths), python_version, root=root, log=log, timeout=timeout)


def prefetch_pins(
    pins: dict[str, str],
    python_version: str = "3.11",
    *,
    root: Path = DEFAULT_CACHE,
    log: Path | None = None,
    timeout: float = 3600,
) -> Path:
    """Download the wheel of each ``{name: version}`` pin into the shared cache for
    ``python_version``; return the cache directory.

    Uses the host's pip configuration (find-links, indexes, CA); only binary wheels for
    CPython ``python_version`` on manylinux x86_64, without dependencies (locks are
    complete). Raises WheelhouseError naming what could not be fetched.
    """
    target = cache_dir(python_version, root)
    target.mkdir(parents=True, exist_ok=True)
    todo = missing(pins, target, python_version)
    if not todo:
        return target
    log = log or target.parent / f"prefetch-cp{python_version.replace('.', '')}.log"
    req = target.parent / f".prefetch-cp{python_version.replace('.', '')}.txt"
    req.write_text("".join(f"{n}=={v}\n" for n, v in sorted(todo.items())))
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--progress-bar=off",
        "--dest",
        str(target),
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        *[arg for plat in _platforms() for arg in ("--platform", plat)],
        "-r",
        str(req),
    ]
    title = f"prefetching {len(todo)} wheel(s) for cp{python_version.replace('.', '')} into {target}"
    with progress.step(title, log), progress.open_log(log) as out:
        out.write("$ " + " ".join(cmd) + "\n")
        out.flush()
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    left = missing(pins, target, python_version)
    if proc.returncode != 0 or left:
        names = ", ".join(f"{n}=={v}" for n, v in sorted(left.items())) or "(see log)"
        raise WheelhouseError(f"could not prefetch wheels for cp{python_version}: {names}; see {log}")
    return target


def link_into(project_dir: Path, wheel_dir: Path, python_version: str = "3.11", extra: Iterable[Path] = ()) -> Path:
    """Fill ``<project>/.wheelhouse/`` with the wheels its own locks (and each ``extra``
    lock file, which may pin other versions) pin, as hard links (copies across file
    systems); stale wheels there are removed. Returns that folder; raises WheelhouseError
    when a pinned wheel is missing.
    """
    dest = Path(project_dir) / ".wheelhouse"
    dest.mkdir(exist_ok=True)
    pin_sets = [read_pins(lock_files(project_dir)), *(read_pins([file]) for file in extra)]
    wanted: dict[str, Path] = {}
    for name, version, path in _wheels(wheel_dir, python_version):
        if any(pins.get(name) == version for pins in pin_sets):
            wanted[path.name] = path
    for old in dest.glob("*.whl"):
        if old.name not in wanted:
            old.unlink()
    for fname, src in wanted.items():
        out = dest / fname
        if out.exists():
            continue
        try:
            os.link(src, out)
        except OSError:
            shutil.copy2(src, out)
    left = {name: version for pins in pin_sets for name, version in missing(pins, dest, python_version).items()}
    if left:
        raise WheelhouseError(
            f"{dest} lacks {', '.join(f'{n}=={v}' for n, v in sorted(left.items()))}: run prefetch() first"
        )
    return dest


def _platforms() -> list[str]:
    """Linux x86_64 platform tags a Debian bookworm base runs, newest first."""
    plats = [f"manylinux_2_{minor}_x86_64" for minor in range(MAX_GLIBC_MINOR, 4, -1)]
    return [*plats, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]


def supported_tags(python_version: str) -> frozenset[Tag]:
    """Every wheel tag CPython ``python_version`` accepts on the images' platform.

    The same order of preference pip uses (``packaging.tags``): ``cpXY-cpXY``, ``cpXY-abi3``
    and older abi3 (an abi3 wheel needs at least the Python it names), ``cpXY-none``, then
    pure ``pyX``/``py3X`` wheels.
    """
    version = tuple(int(part) for part in python_version.split("."))
    interpreter = f"cp{version[0]}{version[1]}"
    return frozenset(
        [
            *cpython_tags(version, platforms=_platforms()),
            *compatible_tags(version, interpreter, platforms=_platforms()),
        ]
    )


def _wheels(wheel_dir: Path, python_version: str) -> Iterable[tuple[str, str, Path]]:
    """(canonical name, public version, path) of the wheels usable on CPython X.Y linux x86_64."""
    if not Path(wheel_dir).is_dir():
        return []
    supported = supported_tags(python_version)
    found = []
    for path in sorted(Path(wheel_dir).glob("*.whl")):
        try:
            name, version, _build, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        if tags & supported:
            found.append((name, version.public, path))
    return found
