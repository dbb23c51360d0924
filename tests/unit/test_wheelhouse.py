"""Wheel selection for offline builds: which cached wheels a Python version may install.

Tags follow `packaging.tags` (what pip uses), so every kind of tag is walked: CPython ABI,
stable ABI (abi3 needs at least the Python it names), pure Python, platforms the base
image's glibc can run, and other interpreters or platforms.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from harness import wheelhouse

# (wheel file name, usable on CPython 3.11 linux x86_64 with glibc 2.36)
WHEELS_311 = [
    ("numpy-2.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", True),
    ("torch-2.13.0+cpu-cp311-cp311-linux_x86_64.whl", True),
    ("cryptography-44.0.0-cp39-abi3-manylinux_2_28_x86_64.whl", True),
    ("pydantic_core-2.0-cp311-abi3-manylinux_2_17_x86_64.whl", True),
    ("six-1.16.0-py2.py3-none-any.whl", True),
    ("thing-1.0-py3-none-any.whl", True),
    ("thing-1.0-py311-none-any.whl", True),
    ("thing-1.0-cp311-none-manylinux1_x86_64.whl", True),
    # abi3 wheels need at least the Python they name
    ("thing-1.0-cp312-abi3-manylinux_2_17_x86_64.whl", False),
    ("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.whl", False),
    ("numpy-2.1.0-cp310-cp310-manylinux_2_17_x86_64.whl", False),
    ("numpy-2.1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", False),
    # a newer glibc than the base image's, another libc, other architectures and systems
    ("numpy-2.1.0-cp311-cp311-manylinux_2_39_x86_64.whl", False),
    ("numpy-2.1.0-cp311-cp311-musllinux_1_2_x86_64.whl", False),
    ("numpy-2.1.0-cp311-cp311-manylinux_2_17_aarch64.whl", False),
    ("numpy-2.1.0-cp311-cp311-win_amd64.whl", False),
    ("numpy-2.1.0-cp311-cp311-macosx_11_0_x86_64.whl", False),
    ("not-a-wheel.whl", False),
]


@pytest.mark.parametrize(("filename", "usable"), WHEELS_311)
def test_wheel_tags_follow_packaging(tmp_path: Path, filename: str, usable: bool) -> None:
    (tmp_path / filename).write_bytes(b"")
    found = [path.name for _, _, path in wheelhouse._wheels(tmp_path, "3.11")]
    assert (filename in found) is usable


def test_a_newer_python_takes_older_abi3_wheels(tmp_path: Path) -> None:
    (tmp_path / "thing-1.0-cp311-abi3-manylinux_2_17_x86_64.whl").write_bytes(b"")
    assert [n for n, _, _ in wheelhouse._wheels(tmp_path, "3.12")] == ["thing"]


def test_pins_are_parsed_as_requirements(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("Pillow==11.0.0\n")
    lock = tmp_path / "serve.txt"
    lock.write_text(
        "# a comment\n"
        "-r base.txt\n"
        "\n"
        "Typing_Extensions==4.12.2  # via pydantic\n"
        "uvicorn[standard]==0.32.0\n"
        'tomli==2.0.1 ; python_version < "3.11"\n'
        "torch==2.13.0+cpu\n"
    )
    assert wheelhouse.read_pins([lock]) == {
        "pillow": "11.0.0",
        "typing-extensions": "4.12.2",
        "uvicorn": "0.32.0",
        "tomli": "2.0.1",
        "torch": "2.13.0",
    }


def lock_text(*packages: tuple[str, str]) -> str:
    """A uv.lock of a project and its registry packages, in uv's layout."""
    entries = ['[[package]]\nname = "proj"\nversion = "0.1.0"\nsource = { editable = "." }\n']
    entries += [
        f'[[package]]\nname = "{name}"\nversion = "{version}"\nsource = {{ registry = "https://pypi.org/simple" }}\n'
        for name, version in packages
    ]
    return 'version = 1\nrevision = 5\nrequires-python = "==3.11.*"\n\n' + "\n".join(entries)


def test_a_uv_lock_gives_its_registry_packages_with_public_versions(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(lock_text(("Typing_Extensions", "4.12.2"), ("torch", "2.13.0+cpu")))
    assert wheelhouse.read_pins([lock]) == {"typing-extensions": "4.12.2", "torch": "2.13.0"}


def test_a_uv_lock_with_two_versions_of_a_package_is_rejected(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(lock_text(("numpy", "2.4.6"), ("numpy", "2.5.5")))
    with pytest.raises(wheelhouse.WheelhouseError, match="two versions"):
        wheelhouse.read_pins([lock])


def test_the_default_projects_lock_gives_its_pins(default_project: Path) -> None:
    pins = wheelhouse.read_pins(wheelhouse.lock_files(default_project))
    assert {"numpy", "onnxruntime", "fastapi", "torch"} <= set(pins)
    assert default_project.name not in pins


@pytest.mark.parametrize(
    "line", ["numpy>=1.26", "numpy", "numpy==1.*", "numpy==1.0,<2", "numpy @ https://x/y.whl", "=="]
)
def test_a_line_that_is_not_one_pin_is_rejected_with_its_file(tmp_path: Path, line: str) -> None:
    lock = tmp_path / "serve.txt"
    lock.write_text(line + "\n")
    with pytest.raises(wheelhouse.WheelhouseError, match=r"serve\.txt"):
        wheelhouse.read_pins([lock])


def test_prefetch_into_an_empty_cache_creates_every_folder_it_writes(tmp_path: Path) -> None:
    """A fresh machine: no cache, no log folder. A real pip download of one small wheel."""
    lock = tmp_path / "requirements" / "serve.txt"
    lock.parent.mkdir()
    lock.write_text("six==1.16.0\n")
    log = tmp_path / "out" / "logs" / "nested" / "prefetch.log"
    cache = wheelhouse.prefetch([lock], "3.11", root=tmp_path / "cache", log=log)
    assert [p.name for p in cache.glob("*.whl")] == ["six-1.16.0-py2.py3-none-any.whl"]
    assert "pip" in log.read_text()
    project = tmp_path / "project"
    project.mkdir()
    (project / "uv.lock").write_text(lock_text(("six", "1.16.0")))
    linked = wheelhouse.link_into(project, cache, "3.11")
    assert [p.name for p in linked.glob("*.whl")] == ["six-1.16.0-py2.py3-none-any.whl"]


def test_harness_pins_nothing_that_no_session_installs() -> None:
    """Every package pinned in requirements/harness.txt is named by a session in noxfile.py."""
    root = Path(__file__).resolve().parents[2]
    pinned = set(wheelhouse.read_pins([root / "requirements" / "harness.txt"]))
    tree = ast.parse((root / "noxfile.py").read_text())
    named = {
        canonicalize_name(n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    assert pinned - named == set(), "pinned in requirements/harness.txt but installed by no nox session"


def test_an_extra_lock_with_another_version_keeps_both_and_drops_the_stale(tmp_path: Path) -> None:
    """The bench's build-backend pins may name a package the project pins at another version."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("packaging-24.0-py3-none-any.whl", "packaging-26.4-py3-none-any.whl", "six-1.16.0-py3-none-any.whl"):
        (cache / name).write_bytes(b"")
    project = tmp_path / "project"
    project.mkdir()
    (project / "uv.lock").write_text(lock_text(("packaging", "24.0")))
    (project / ".wheelhouse").mkdir()
    (project / ".wheelhouse" / "old-1.0-py3-none-any.whl").write_bytes(b"")
    extra = tmp_path / "backend.txt"
    extra.write_text("packaging==26.4\n")
    linked = wheelhouse.link_into(project, cache, "3.11", extra=[extra])
    assert sorted(p.name for p in linked.glob("*.whl")) == [
        "packaging-24.0-py3-none-any.whl",
        "packaging-26.4-py3-none-any.whl",
    ]
