"""How many CPUs this process may really use, and thread pools sized to match.

In a container ``os.cpu_count()`` reports the host's CPUs, not the container's limit;
thread pools sized from it oversubscribe the quota and get throttled. The limit is
read from cgroup v2 (``cpu.max``), then cgroup v1 (``cpu.cfs_quota_us``), and is never
more than the CPUs this process is allowed to run on.

This module imports no training framework, so the server can use it too.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")

# Environment variables read at import time by the native thread pools of numpy/BLAS,
# OpenMP{% if cookiecutter.framework == "pytorch" %} and PyTorch{% elif cookiecutter.framework == "tensorflow" %} and TensorFlow{% endif %}.
THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
)


def parse_cpu_max(text: str) -> float | None:
    """Parse cgroup v2 ``cpu.max`` ("<quota> <period>" or "max <period>").

    Returns the CPU limit as a (possibly fractional) number of CPUs, or None when
    the cgroup has no limit or the content is not understood.
    """
    parts = text.split()
    if not parts or parts[0] == "max":
        return None
    try:
        quota = int(parts[0])
        period = int(parts[1]) if len(parts) > 1 else 100_000
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_cfs_quota(quota_text: str, period_text: str) -> float | None:
    """Parse cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (quota -1: no limit)."""
    try:
        quota = int(quota_text.strip())
        period = int(period_text.strip())
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU limit set by the cgroup this process runs in, or None when unlimited."""
    cpu_max = root / "cpu.max"
    if cpu_max.is_file():
        return parse_cpu_max(_read(cpu_max))
    for v1_dir in (root / "cpu", root / "cpu,cpuacct", root):
        quota, period = v1_dir / "cpu.cfs_quota_us", v1_dir / "cpu.cfs_period_us"
        if quota.is_file() and period.is_file():
            return parse_cfs_quota(_read(quota), _read(period))
    return None


def cpu_limit(root: Path = CGROUP_ROOT) -> int:
    """Whole CPUs this process may use: the cgroup quota rounded up, at least 1."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        available = min(available, math.ceil(limit))
    return max(1, available)


def configure_thread_env(threads: int | None = None) -> int:
    """Size native thread pools to the CPU limit; call before importing a framework.

    Variables already set in the environment are left alone, so an operator can
    still override them. Returns the number of threads chosen.
    """
    threads = threads or cpu_limit()
    for name in THREAD_ENV_VARS:
        os.environ.setdefault(name, str(threads))
    return threads


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii")
    except OSError:
        return ""


def peak_memory_mib(status: Path = Path("/proc/self/status")) -> float | None:
    """This process's peak resident memory in MiB since it started (Linux's ``VmHWM``), or
    None where there is no such file.

    Not ``getrusage``'s ``ru_maxrss``: Linux carries that over from the process that forked
    this one (its peak at the exec), so a small program started by a large one reports the
    large one's memory.
    """
    try:
        text = status.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)  # kB
    return None
