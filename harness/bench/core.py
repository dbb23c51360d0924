"""What every measurement shares: the Bench that collects figures and writes the report,
the variant under measurement (through the same pipeline as every session), constants.

Every step saves bench.json, report.md and bench.png, so an interrupted run still leaves
a real (partial) report. Containers and volumes live in a harness Sandbox (unique,
labelled, removed afterwards); compose runs under a unique project name, taken down after.
"""

import datetime as dt
import json
import os
import platform
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from .. import options, pipeline
from ..engine import Engine
from ..sandbox import Sandbox
from . import builds
from .report import Figure, write_outputs

ROOT = options.ROOT
OUT = ROOT / "out" / "bench"
DOCS = ROOT / "docs" / "bench"
PROJECT_NAME = "Bench Digits"
# The no-op endpoint, and room for 16 concurrent inferences: with the default
# MAX_CONCURRENCY=4, c=16 measures the 503s of load shedding, not predictions.
LOAD_ENV = ("-e", "ENABLE_NOOP=1", "-e", "MAX_CONCURRENCY=16")  # own image names: never retags images other jobs use


class Bench:
    def __init__(self, out: Path = OUT, docs: Path | None = DOCS, command: str = "") -> None:
        self.out, self.docs = out, docs
        self.figures: dict[str, Figure] = {}
        self.meta = {
            "date": dt.date.today().isoformat(),
            "command": command,
            "machine": machine(),
            "variants": [],
            "notes": [],
        }
        self.raw: dict[str, object] = {}

    def load(self) -> None:
        """Continue the previous run: keep its figures, variants and notes (--append)."""
        path = self.out / "bench.json"
        if not path.is_file():
            return
        old = json.loads(path.read_text())
        for data in old.get("figures", []):
            self.figures[data["key"]] = Figure.from_dict(data)
        self.raw.update(old.get("raw", {}))
        for vid in old.get("meta", {}).get("variants", []):
            if vid not in self.meta["variants"]:
                self.meta["variants"].append(vid)
        for note in old.get("meta", {}).get("notes", []):
            self.note(note)
        commands = [c for c in (old.get("meta", {}).get("command"), self.meta["command"]) if c]
        self.meta["command"] = "; ".join(commands)

    def figure(self, key: str, label: str, unit: str, group: str, targets=(), note: str = "") -> Figure:
        if key not in self.figures:
            self.figures[key] = Figure(key, label, unit, [], list(targets), note, group)
        return self.figures[key]

    def add(self, key: str, value: float, label: str, unit: str, group: str, targets=(), note: str = "") -> None:
        self.figure(key, label, unit, group, targets, note).samples.append(float(value))

    def note(self, text: str) -> None:
        if text not in self.meta["notes"]:
            self.meta["notes"].append(text)

    def data(self) -> dict:
        return {"meta": self.meta, "figures": [f.to_dict() for f in self.figures.values()], "raw": self.raw}

    def save(self) -> None:
        write_outputs(self.data(), self.out, self.docs)


def machine() -> dict[str, str]:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{mem:.0f} GiB",
        "gpu": "none",
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def timed(func: Callable[[], object]) -> tuple[float, object]:
    start = time.monotonic()
    result = func()
    return time.monotonic() - start, result


class Variant:
    """A variant rendered for the benchmarks (own project name, own image tags), through the
    same pipeline as every other session (``pipeline.render_project``/``build_targets``)."""

    def __init__(self, engine: Engine, variant: Mapping[str, str], out: Path = OUT) -> None:
        self.engine = engine
        self.source = pipeline.render_project(engine, variant, out, project_name=PROJECT_NAME)
        self.variant, self.id, self.project = self.source.variant, self.source.id, self.source.path
        self.base, self.package, self.logs = self.source.base_image, self.source.package, self.source.log_dir
        self.repository = self.source.repository
        self.results: dict = {}
        builds.add_build_backend(self.project, self.variant["python_version"], self.logs)

    def ours(self, target: str, no_cache: bool = False):
        result = pipeline.build_targets(self.engine, self.source, [target], no_cache=no_cache)[target]
        self.results[target] = result
        return result

    def baseline(self, kind: str, requirements: str, no_cache: bool = False):
        tag = f"{self.repository}:{self.id}-{kind}-{requirements}"
        return builds.build_baseline(
            self.engine, self.project, kind, requirements, tag, self.base, no_cache=no_cache, log_dir=self.logs
        )

    def image(self, target: str) -> str:
        return f"{self.repository}:{self.id}-{target}"

    def as_images(self) -> pipeline.VariantImages:
        return pipeline.VariantImages(self.source, self.results)


def read_one(box: Sandbox, volume: str, path: str, image: str) -> bytes:
    """One file from a volume, read through a throwaway container of ``image``."""
    files = box.copy_out(volume, path, image)
    return next(iter(files.values()))
