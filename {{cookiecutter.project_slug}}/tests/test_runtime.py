from __future__ import annotations

import os
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.runtime import (
    THREAD_ENV_VARS,
    cgroup_cpu_limit,
    configure_thread_env,
    cpu_limit,
    parse_cpu_max,
)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("max 100000\n", None),  # no limit (docker run without --cpus)
        ("200000 100000\n", 2.0),  # --cpus=2
        ("150000 100000\n", 1.5),  # --cpus=1.5
        ("50000 100000\n", 0.5),  # Kubernetes limits.cpu: 500m
        ("100000\n", 1.0),  # period omitted: the kernel default of 100000
        ("", None),
        ("garbage\n", None),
    ],
)
def test_parse_cpu_max(tmp_path: Path, content: str, expected: float | None) -> None:
    (tmp_path / "cpu.max").write_text(content)
    assert cgroup_cpu_limit(tmp_path) == expected
    assert parse_cpu_max(content) == expected


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    v1 = tmp_path / "cpu,cpuacct"
    v1.mkdir()
    (v1 / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path) == 3.0
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path) is None


def test_cpu_limit_rounds_up_and_never_exceeds_available(tmp_path: Path) -> None:
    available = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert cpu_limit(tmp_path) == 1
    (tmp_path / "cpu.max").write_text(f"{(available + 8) * 100000} 100000\n")
    assert cpu_limit(tmp_path) == available
    assert cpu_limit(tmp_path / "no-cgroup") == available


def test_configure_thread_env_keeps_operator_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert configure_thread_env(2) == 2
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "2"
