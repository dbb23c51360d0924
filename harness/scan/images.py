"""Checks on built images: secrets in layers, leaked build secrets, SBOM, serve-image policy.

Everything runs against the local Docker daemon (``Engine``): trivy reads the image from
it, ``docker save`` streams the layers, and the policy probes run ``find`` in a throwaway
container with no network.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..engine import Engine
from .result import FAIL, PASS, Outcome
from .tools import ScanError, load_json, run, tail, tool, trivy_convert

PIP_CONF_NEEDLE = b"cert = /run/secrets/ca"
# Where an image keeps its own trust store; a *public* root CA found there is not a leak.
TRUST_STORE_MARKERS = ("etc/ssl/certs/", "usr/share/ca-certificates/", "cacert.pem", "ca-certificates.crt")
CHUNK = 1 << 20


def trivy_image(engine: Engine, image: str, out: Path, target: str) -> tuple[Outcome, Outcome]:
    """Secrets in every layer of ``image``, and its CycloneDX SBOM (one trivy scan, no vuln DB)."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / f"trivy-image-{target}.json"
    report.unlink(missing_ok=True)
    proc = run(
        [
            tool("trivy"),
            "image",
            "--quiet",
            "--image-src",
            "docker",
            "--skip-db-update",
            "--scanners",
            "secret",
            "--list-all-pkgs",
            "--format",
            "json",
            "--output",
            str(report),
            image,
        ],
        env=engine.env(),
    )
    data = load_json(report, proc)
    trivy_convert(report, "sarif", out / f"trivy-secrets-{target}.sarif")
    found = [
        f"{target}: {r['Target']}: {s.get('RuleID')} ({s.get('Severity')})"
        for r in data.get("Results") or []
        for s in r.get("Secrets") or []
    ]
    secrets = Outcome("secrets-image", FAIL if found else PASS, len(found), "\n".join(found))
    sbom_path = trivy_convert(report, "cyclonedx", out / f"sbom-{target}.cdx.json")
    components = len(json.loads(sbom_path.read_text(encoding="utf-8")).get("components") or [])
    sbom = Outcome(
        "sbom",
        PASS if components else FAIL,
        0 if components else 1,
        f"{target}: {sbom_path.name} has {components} components",
    )
    return secrets, sbom


def last_certificate(bundle: Path) -> bytes:
    """The last PEM block of a CA bundle (a proxy's CA is usually appended last)."""
    text = bundle.read_bytes()
    start = text.rfind(b"-----BEGIN CERTIFICATE-----")
    end = text.find(b"-----END CERTIFICATE-----", start)
    if start < 0 or end < 0:
        raise ScanError(f"{bundle} holds no PEM certificate")
    return text[start : end + len(b"-----END CERTIFICATE-----")]


def is_public_root(pem: bytes) -> bool:
    """Whether the certificate is in certifi's Mozilla bundle (then images may legitimately hold it)."""
    try:
        import certifi
    except ImportError:
        return False
    body = b"".join(pem.split(b"\n")[1:-1])
    return body in Path(certifi.where()).read_bytes().replace(b"\n", b"")


@dataclass(frozen=True)
class BuildSecrets:
    """What the build mounted as secrets, as byte patterns and exact-file digests."""

    needles: Mapping[str, bytes]
    digests: Mapping[str, str]
    public_ca: bool = False

    @classmethod
    def from_host(cls, ca_bundle: Path) -> BuildSecrets:
        needles = {"pip.conf `cert = /run/secrets/ca`": PIP_CONF_NEEDLE}
        digests: dict[str, str] = {}
        public = False
        if ca_bundle.is_file():
            cert = last_certificate(ca_bundle)
            public = is_public_root(cert)
            needles["last certificate of the CA bundle"] = cert
            digests["the CA bundle"] = hashlib.sha256(ca_bundle.read_bytes()).hexdigest()
        return cls(needles, digests, public)


class _Prefixed:
    """A read()-able stream with some already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            if size < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:size], self.head[size:]
            return data + (self.rest.read(size - len(data)) if size > len(data) else b"")
        return self.rest.read(size)


def _search(stream: IO[bytes], secrets: BuildSecrets) -> Iterator[str]:
    """Names of needles found in a stream (across chunk borders), then of matching digests."""
    keep = max(len(n) for n in secrets.needles.values()) - 1
    digest = hashlib.sha256()
    tail_, hits = b"", set()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        window = tail_ + chunk
        hits.update(name for name, needle in secrets.needles.items() if needle in window)
        tail_ = window[-keep:]
    yield from sorted(hits)
    yield from (name for name, d in secrets.digests.items() if d == digest.hexdigest())


def _open_member(stream: IO[bytes]) -> tuple[IO[bytes], bool]:
    """The member's bytes, gunzipped when compressed, and whether they are a tar archive."""
    head = stream.read(512)
    reader: IO[bytes] = _Prefixed(head, stream)  # type: ignore[assignment]
    if head[:2] == b"\x1f\x8b":
        reader = gzip.GzipFile(fileobj=reader)  # type: ignore[arg-type]
        head = reader.read(512)
        reader = _Prefixed(head, reader)  # type: ignore[assignment]
    return reader, head[257:262] == b"ustar"


def find_build_secrets(engine: Engine, image: str, secrets: BuildSecrets) -> list[str]:
    """Stream ``docker save`` and report every layer file holding a build secret."""
    proc = subprocess.Popen([engine.docker, "save", image], stdout=subprocess.PIPE, env=engine.env())
    found: list[str] = []
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as outer:
            for member in outer:
                if not member.isfile():
                    continue
                stream = outer.extractfile(member)
                assert stream is not None
                reader, is_tar = _open_member(stream)
                if not is_tar:
                    found += [f"{member.name}: {name}" for name in _search(reader, secrets)]
                    continue
                with tarfile.open(fileobj=reader, mode="r|") as layer:  # type: ignore[arg-type]
                    for item in layer:
                        inner = layer.extractfile(item) if item.isfile() else None
                        if inner is None:
                            continue
                        for name in _search(inner, secrets):
                            public_root = secrets.public_ca and name.startswith("last certificate")
                            if public_root and any(m in item.name for m in TRUST_STORE_MARKERS):
                                continue
                            found.append(f"{member.name}: /{item.name}: {name}")
        # tarfile stops at the end-of-archive marker; drain the padding docker still writes
        # (closing the pipe early kills docker save with SIGPIPE).
        while proc.stdout.read(CHUNK):  # type: ignore[union-attr]
            pass
    except BaseException:
        proc.kill()
        raise
    finally:
        proc.stdout.close()  # type: ignore[union-attr]
        code = proc.wait()
    if code != 0:
        raise ScanError(f"docker save {image} failed (exit {code})")
    return found


def build_secret_leaks(engine: Engine, image: str, secrets: BuildSecrets, target: str) -> Outcome:
    found = find_build_secrets(engine, image, secrets)
    return Outcome("build-secrets", FAIL if found else PASS, len(found), "\n".join(f"{target}: {f}" for f in found))


COMPILERS = ("gcc", "gcc-[0-9]*", "cc", "c++", "g++*", "clang*", "*-linux-gnu-gcc*", "tcc")
CACHES = ("*/.cache/pip/*", "/var/cache/apt/*", "/var/lib/apt/lists/*", "/var/cache/pip/*")


def _find(engine: Engine, image: str, *expr: str) -> list[str]:
    proc = engine.run(
        "run",
        "--rm",
        "--network",
        "none",
        "--user",
        "0:0",
        "--entrypoint",
        "find",
        image,
        "/",
        "-xdev",
        *expr,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0 and not proc.stdout:
        raise ScanError(f"`find` in {image} failed (exit {proc.returncode}): {tail(proc)}")
    return sorted(line for line in proc.stdout.splitlines() if line)


# OCI labels every image carries (the Dockerfile sets them from build args).
REQUIRED_LABELS = tuple(f"org.opencontainers.image.{key}" for key in ("source", "revision", "version", "created"))
# What the serve image must not hold: a training framework or an installer.
NOT_IN_SERVE = ("torch", "tensorflow", "sklearn", "pip")


def image_config_problems(engine: Engine, image: str, healthcheck: bool = True) -> list[str]:
    """A numeric non-root USER, the OCI labels and (``healthcheck``) a HEALTHCHECK in the image config."""
    proc = engine.run("image", "inspect", "--format", "{{json .Config}}", image)
    config = json.loads(proc.stdout)
    problems = []
    user = (config.get("User") or "").split(":")[0]
    if not user.isdigit() or user == "0":
        problems.append(f"runs as {config.get('User')!r}; set a numeric non-root USER")
    labels = config.get("Labels") or {}
    problems += [f"no label {key}" for key in REQUIRED_LABELS if not labels.get(key)]
    health = (config.get("Healthcheck") or {}).get("Test") or []
    if healthcheck and (not health or health[0] == "NONE"):
        problems.append("no HEALTHCHECK")
    return problems


def importable(engine: Engine, image: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` the image's python can import (checked without importing them)."""
    probe = f"import importlib.util as u; print(' '.join(m for m in {modules!r} if u.find_spec(m)))"
    proc = engine.run("run", "--rm", "--network", "none", "--read-only", "--entrypoint", "python", image, "-c", probe)
    return proc.stdout.split()


def serve_policy(engine: Engine, image: str) -> Outcome:
    """The serve image: non-root, labels, HEALTHCHECK, no training framework or pip, no
    setuid/setgid files, compilers or package caches."""
    problems = image_config_problems(engine, image)
    problems += [f"importable in serve: {m}" for m in importable(engine, image, NOT_IN_SERVE)]
    problems += [f"setuid/setgid: {p}" for p in _find(engine, image, "-perm", "/6000", "-type", "f")]
    names: list[str] = []
    for name in COMPILERS:
        names += ["-name", name, "-o"]
    compilers = _find(
        engine, image, "(", "-type", "f", "-o", "-type", "l", ")", "-path", "*/bin/*", "(", *names[:-1], ")"
    )
    problems += [f"compiler: {p}" for p in compilers]
    paths: list[str] = []
    for pattern in CACHES:
        paths += ["-path", pattern, "-o"]
    caches = _find(engine, image, "-type", "f", "!", "-name", "lock", "(", *paths[:-1], ")")
    problems += [f"package cache: {p}" for p in caches]
    return Outcome("serve-policy", FAIL if problems else PASS, len(problems), "\n".join(problems))
