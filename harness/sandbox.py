"""Run containers for one test or demo, with unique names, and remove everything after.

Every container, volume and network a Sandbox creates carries the label
``ml-container-template.run=<run id>``; leaving the sandbox removes them all by that label,
whether the code inside failed or not, so runs never collide and never leak.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import progress
from .engine import Engine, EngineError

LABEL = "ml-container-template.run"


class Sandbox:
    def __init__(self, engine: Engine, prefix: str = "mlct") -> None:
        self.engine = engine
        self.run_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.label = f"{LABEL}={self.run_id}"

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def name(self, what: str) -> str:
        return f"{self.run_id}-{what}"

    def volume(self, what: str) -> str:
        name = self.name(what)
        self.engine.run("volume", "create", "--label", self.label, name)
        return name

    def adopt_volume(self, name: str) -> str:
        """Create a volume with a name chosen elsewhere (e.g. from a manifest), labelled as ours."""
        self.engine.run("volume", "create", "--label", self.label, name)
        return name

    def network(self, what: str) -> str:
        name = self.name(what)
        self.engine.run("network", "create", "--label", self.label, name)
        return name

    def run(
        self,
        image: str,
        *command: str,
        name: str,
        options: Sequence[str] = (),
        detach: bool = False,
        timeout: float | None = None,
        check: bool = True,
    ):
        """`docker run` a labelled container; without `detach` it waits and returns the result."""
        args = ["run", "--name", self.name(name), "--label", self.label, *options]
        args += ["--detach"] if detach else []
        return self.engine.run(*args, image, *command, check=check, timeout=timeout)

    def host_port(self, name: str, container_port: int) -> int:
        out = self.engine.run("port", self.name(name), f"{container_port}/tcp").stdout
        return int(out.strip().splitlines()[0].rsplit(":", 1)[1])

    def logs(self, name: str) -> str:
        proc = self.engine.run("logs", self.name(name), check=False)
        return proc.stdout + proc.stderr

    @contextlib.contextmanager
    def follow_logs(self, name: str, log: Path | None) -> Iterator[None]:
        """While inside, copy the container's output into ``log`` (nothing when ``log`` is None)."""
        if log is None:
            yield
            return
        with progress.open_log(log) as out:
            follower = subprocess.Popen(
                [self.engine.docker, "logs", "--follow", self.name(name)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.engine.env(),
            )
            try:
                yield
            finally:
                follower.terminate()
                follower.wait(timeout=10)

    def wait_exit(self, name: str, timeout: float) -> int:
        proc = self.engine.run("wait", self.name(name), timeout=timeout)
        return int(proc.stdout.strip())

    def wait_gang(self, names: list[str], timeout: float, poll: float = 1.0) -> dict[str, int | None]:
        """Exit status per container of a gang (e.g. torchrun nodes), polled every ``poll`` s.

        Returns once every one has exited, or as soon as one exits non-zero (its peers
        would otherwise wait out their collective timeout); None for those still running.
        Raises TimeoutError after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            states = {name: self.inspect(name)["State"] for name in names}
            status = {name: None if state["Running"] else int(state["ExitCode"]) for name, state in states.items()}
            if all(code is not None for code in status.values()) or any(status.values()):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{', '.join(names)} still running after {timeout:.0f} s")
            time.sleep(poll)

    def inspect(self, name: str) -> dict:
        return json.loads(self.engine.run("inspect", self.name(name)).stdout)[0]

    def copy_out(self, volume: str, path: str, image: str) -> dict[str, bytes]:
        """Files under ``path`` in a volume, read through a throwaway container of ``image``."""
        cmd = [self.engine.docker, "run", "--rm", "--label", self.label, "-v", f"{volume}:/mnt:ro"]
        cmd += ["--entrypoint", "tar", image, "-C", "/mnt", "-cf", "-", path]
        proc = subprocess.run(cmd, capture_output=True, env=self.engine.env(), check=False)
        if proc.returncode != 0:
            raise EngineError(f"reading {path} from volume {volume} failed: {proc.stderr.decode()[-500:]}")
        files = {}
        with tarfile.open(fileobj=io.BytesIO(proc.stdout), mode="r:") as archive:
            for member in archive.getmembers():
                if member.isfile():
                    handle = archive.extractfile(member)
                    assert handle is not None
                    files[member.name] = handle.read()
        return files

    def cleanup(self) -> None:
        """Remove every container, network and volume of this run (idempotent)."""
        ids = self.engine.run("ps", "-aq", "--filter", f"label={self.label}", check=False).stdout.split()
        if ids:
            self.engine.run("rm", "-f", "-v", *ids, check=False)
        for kind in ("network", "volume"):
            names = self.engine.run(kind, "ls", "-q", "--filter", f"label={self.label}", check=False).stdout.split()
            if names:
                self.engine.run(kind, "rm", "-f" if kind == "volume" else "--", *names, check=False)


def wait_http(url: str, timeout: float, expect: int = 200) -> float:
    """Poll ``url`` until it answers ``expect``; return the seconds it took."""
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == expect:
                    return time.monotonic() - start
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer {expect} within {timeout:.0f} s (last: {last})")


def post_images(url: str, images: dict[str, bytes], top_k: int = 1, timeout: float = 30) -> dict:
    """POST images as multipart/form-data to ``url`` and return the decoded JSON answer."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for filename, data in images.items():
        body.write(f"--{boundary}\r\n".encode())
        body.write(f'Content-Disposition: form-data; name="files"; filename="{Path(filename).name}"\r\n'.encode())
        body.write(b"Content-Type: image/png\r\n\r\n" + data + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        f"{url}?top_k={top_k}",
        data=body.getvalue(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())
