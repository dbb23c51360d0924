"""Provide the Python base image the template's Dockerfile builds FROM.

The Dockerfile defaults to ``python:X-slim``. Where that image is present locally or can
be pulled, it is used as is. Where no registry is reachable (air-gapped mode), an
equivalent base is bootstrapped from Debian packages with debootstrap and ``docker
import``: Debian's python3 with venv/ensurepip, ca-certificates, ``python`` and
``python3`` on PATH, LANG=C.UTF-8, a minbase footprint without docs, man pages or
locales. It is built once and reused while its tag exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import progress
from .engine import Engine, EngineError
from .errors import HarnessError

BOOTSTRAP_REPO = "ml-container-template/python"
# The Debian suite whose python3 is each Python version (bootstrap is possible only there;
# trixie (3.13) would work the same way but is not a template option, so it is not listed).
SUITE_FOR_PYTHON = {"3.11": "bookworm"}
DEFAULT_MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Paths removed from the rootfs: documentation, man pages, locales, apt lists and caches.
PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
)
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)


class BaseImageError(HarnessError):
    """No base image could be provided; the message says why and what to do."""


def upstream_ref(python_version: str) -> str:
    """The Dockerfile's default base, e.g. ``python:3.11-slim``."""
    return f"python:{python_version}-slim"


def bootstrap_ref(python_version: str) -> str:
    """Tag of the bootstrapped base, e.g. ``ml-container-template/python:3.11-bookworm-bootstrap``."""
    suite = SUITE_FOR_PYTHON.get(python_version, "unknown")
    return f"{BOOTSTRAP_REPO}:{python_version}-{suite}-bootstrap"


def ensure_base_image(
    engine: Engine,
    python_version: str = "3.11",
    *,
    try_pull: bool = True,
    pull_timeout: float = 60.0,
    mirror: str = DEFAULT_MIRROR,
    log: Path | None = None,
) -> str:
    """Return a local image reference to pass as ``--build-arg BASE_IMAGE=...``.

    Order: ``python:X-slim`` present locally; the bootstrap tag present; ``python:X-slim``
    pulled (when ``try_pull``); bootstrapped now (needs root and debootstrap, ~2 minutes).
    Raises BaseImageError when none works, e.g. a Python version Debian does not ship.
    """
    upstream = upstream_ref(python_version)
    if engine.image_exists(upstream):
        return upstream
    ref = bootstrap_ref(python_version)
    if engine.image_exists(ref):
        return ref
    if try_pull:
        try:
            proc = engine.run("pull", "-q", upstream, check=False, timeout=pull_timeout)
            if proc.returncode == 0:
                return upstream
        except EngineError:
            pass  # timed out: treat as air-gapped
    bootstrap(engine, python_version, mirror=mirror, log=log)
    return ref


def bootstrap(
    engine: Engine,
    python_version: str = "3.11",
    *,
    mirror: str = DEFAULT_MIRROR,
    log: Path | None = None,
) -> str:
    """Build the bootstrap base image with debootstrap and ``docker import``; return its tag.

    Always builds (``ensure_base_image`` is the cached entry point).
    """
    suite = SUITE_FOR_PYTHON.get(python_version)
    if suite is None:
        known = ", ".join(f"{v} ({s})" for v, s in SUITE_FOR_PYTHON.items())
        raise BaseImageError(
            f"python:{python_version}-slim is not available and cannot be bootstrapped: Debian "
            f"ships python3 only as {known}. Load python:{python_version}-slim into the daemon "
            f"(docker load) or choose python_version 3.11."
        )
    if shutil.which("debootstrap") is None:
        raise BaseImageError(
            "debootstrap is not installed: run `sudo scripts/docker-up.sh` (or apt-get install debootstrap)"
        )
    if os.geteuid() != 0:
        raise BaseImageError("bootstrapping a base image needs root (debootstrap chroots)")
    ref = bootstrap_ref(python_version)
    log = log or Path(tempfile.gettempdir()) / f"base-image-{python_version}.log"
    started = time.monotonic()
    with (
        progress.step(f"bootstrapping base image {ref} from Debian {suite} (once, about 2 min)", log),
        tempfile.TemporaryDirectory(prefix="rootfs-", dir=_workdir()) as tmp,
        progress.open_log(log) as out,
    ):
        rootfs = Path(tmp) / "rootfs"
        _step(
            out,
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(PACKAGES)}",
                suite,
                str(rootfs),
                mirror,
            ],
            log,
        )
        _configure(rootfs, suite, mirror, python_version)
        _step(out, ["chroot", str(rootfs), "apt-get", "clean"], log)
        _prune(rootfs)
        _import(engine, rootfs, ref, out, log)
        out.write(f"bootstrapped {ref} in {time.monotonic() - started:.0f}s\n")
    return ref


def _workdir() -> str:
    # Not /tmp if it is a tmpfs without room or with nodev: /var/tmp is a disk.
    return "/var/tmp" if os.path.isdir("/var/tmp") else tempfile.gettempdir()


def _configure(rootfs: Path, suite: str, mirror: str, python_version: str) -> None:
    """Make the rootfs look like python:X-slim where the Dockerfile cares."""
    # apt sources like Debian's images: the release, its updates and security.
    security = mirror.replace("/debian", "/debian-security")
    (rootfs / "etc/apt/sources.list").write_text(
        f"deb {mirror} {suite} main\ndeb {mirror} {suite}-updates main\ndeb {security} {suite}-security main\n"
    )
    # Keep dpkg from reinstalling what was pruned, as Debian's slim images do.
    (rootfs / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/dpkg/dpkg.cfg.d/docker-slim").write_text(
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n"
        "path-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\n"
        "path-exclude /usr/share/locale/*\npath-exclude /usr/share/lintian/*\n"
    )
    (rootfs / "etc/apt/apt.conf.d/docker-clean").write_text(
        'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };\n'
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";\n'
        'APT::Install-Recommends "false";\n'
    )
    # `python` like the official image (Debian has only python3).
    local_bin = rootfs / "usr/local/bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name in ("python", f"python{python_version}"):
        link = local_bin / name
        if not link.exists() and not (rootfs / "usr/bin" / name).exists():
            link.symlink_to("/usr/bin/python3")
    # Resolver config comes from the engine at run time.
    for name in ("etc/resolv.conf", "etc/hostname"):
        path = rootfs / name
        if path.exists() or path.is_symlink():
            path.unlink()


def _import(engine: Engine, rootfs: Path, ref: str, out, log: Path) -> None:
    changes: list[str] = []
    for change in IMPORT_CHANGES:
        changes += ["--change", change]
    tar = subprocess.Popen(
        ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-c", "."],
        stdout=subprocess.PIPE,
        stderr=out,
    )
    imp = subprocess.run(
        [engine.docker, "import", *changes, "-", ref],
        stdin=tar.stdout,
        stdout=out,
        stderr=out,
        env=engine.env(),
        check=False,
    )
    assert tar.stdout is not None
    tar.stdout.close()
    if tar.wait() != 0 or imp.returncode != 0:
        raise BaseImageError(f"docker import of {rootfs} as {ref} failed; see {log}")


def _step(out, cmd: list[str], log: Path) -> None:
    out.write(f"$ {' '.join(cmd)}\n")
    out.flush()
    proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise BaseImageError(f"`{' '.join(cmd[:3])} ...` failed ({proc.returncode}); see {log}")


def _prune(rootfs: Path) -> None:
    """Remove docs, man pages, locales and apt caches; keep license (copyright) files."""
    for rel in PRUNE:
        target = rootfs / rel
        if not target.is_dir():
            continue
        for child in target.iterdir():
            if rel == "usr/share/doc" and child.is_dir() and not child.is_symlink():
                for item in child.iterdir():
                    if item.name != "copyright":
                        _remove(item)
            else:
                _remove(child)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
