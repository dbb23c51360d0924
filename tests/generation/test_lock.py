"""Every generated project's uv.lock is current, portable, in uv's own layout, and its
requirements/*.txt are its exports.

Real uv on real renders: `uv lock --locked` for each of the template's lock sets (the
PyTorch CPU ones through the loopback mirror of that index, harness/lock.py), `make
requirements` against the committed exports, and uv itself as the judge of where the
project's own entry belongs: a lock made for another project name, re-locked by uv under
the new name, must equal the hook's placement byte for byte.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import pytest

from harness import lock, options
from harness.render import render

# One variant per lock set: every combination of Python, framework and accelerator.
SETS = {lock.key(v): v for v in options.valid_variants()}
# Hosts a committed lock may name: the package indexes a user's machine reaches.
HOSTS = {"pypi.org", "files.pythonhosted.org", "download.pytorch.org", "download-r2.pytorch.org"}


@pytest.fixture(scope="module", params=sorted(SETS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    variant = SETS[request.param]
    return render(variant, tmp_path_factory.mktemp(request.param)), variant


def test_every_lock_set_exists() -> None:
    assert sorted(p.name for p in lock.LOCKS.iterdir()) == sorted(SETS), "run `nox -s lock`"


def test_lock_is_current(rendered: tuple[Path, dict], tmp_path: Path) -> None:
    """`uv lock --locked`: the lock satisfies pyproject.toml's groups, indexes and sources."""
    project, variant = rendered
    copy = shutil.copytree(project, tmp_path / project.name)
    lock.lock_project(copy, variant, check=True)
    assert (copy / "uv.lock").read_text() == (project / "uv.lock").read_text()


def test_requirements_are_the_lock_exports(rendered: tuple[Path, dict], tmp_path: Path) -> None:
    project, variant = rendered
    copy = shutil.copytree(project, tmp_path / project.name)
    for path in (copy / "requirements").glob("*.txt"):
        path.unlink()
    assert lock.export(copy, variant) == {
        p.name: p.read_text() for p in sorted((project / "requirements").glob("*.txt"))
    }


def test_lock_names_no_machine(rendered: tuple[Path, dict]) -> None:
    """Portable: no path, loopback mirror or host but the public indexes."""
    project, _ = rendered
    text = (project / "uv.lock").read_text()
    assert not re.search(r"file:|127\.0\.0\.1|localhost|/tmp/|/root/|/home/|path = ", text)
    hosts = set(re.findall(r"https?://([^/\"]+)", text))
    assert hosts <= HOSTS, hosts - HOSTS
    for name in ("uv.lock", "requirements/train.txt"):
        assert "{{" not in (project / name).read_text(), f"{name} holds Jinja"


@pytest.mark.parametrize("name", ["Aardvark", "Mmm Middle", "Zzz Top"])
def test_project_entry_is_where_uv_puts_it(name: str, tmp_path: Path) -> None:
    """The hook's placement equals uv's own re-lock of a lock made under another name."""
    variant = options.default_variant()
    project = render(variant, tmp_path, project_name=name)
    placed = (project / "uv.lock").read_text()
    template = (lock.LOCKS / lock.key(variant) / "uv.lock").read_text()
    made_for_another = template.replace(lock.PLACEHOLDERS["name"], "digits-classifier").replace(
        lock.PLACEHOLDERS["version"], "0.1.0"
    )
    (project / "uv.lock").write_text(made_for_another)
    lock.lock_project(project, variant)
    assert (project / "uv.lock").read_text() == placed


def test_the_local_torch_wheel_is_the_published_one() -> None:
    """The mirror's file is the PyTorch CPU index's own (the digest the locks record)."""
    wheel = lock.local_pytorch_cpu_wheel("3.11")
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == lock.PYTORCH_CPU_WHEELS[wheel.name]


def test_mirror_refuses_a_wheel_of_another_digest(tmp_path: Path) -> None:
    fake = tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    fake.write_bytes(b"not the wheel")
    with pytest.raises(lock.LockError, match="not the PyTorch CPU index's"), lock.pytorch_cpu_mirror(fake):
        pass


def test_mirror_mapping_round_trips() -> None:
    text = (lock.LOCKS / "py3.11-pytorch-cpu" / "uv.lock").read_text()
    mirrored = lock.to_mirror(text, "http://127.0.0.1:9")
    assert "pytorch.org" not in mirrored
    assert lock.from_mirror(mirrored, "http://127.0.0.1:9") == text
