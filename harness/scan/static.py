"""Checks on files: misconfiguration policy, Dockerfile lint, Python code, secrets in a tree.

Each function scans explicit paths and writes its SARIF next to ``out``, so the gate
(`harness.scan.runner`) and the tests on deliberately insecure fixtures call the same code.

Policy:
  * trivy config: zero HIGH or CRITICAL misconfigurations (lower severities are counted
    in the SARIF for code scanning, not failed).
  * checkov: offline (no platform key) it has no severities, so every failed check fails;
    a deliberate exception is an inline ``checkov:skip=<ID>: <reason>`` comment
    (Dockerfile) or ``checkov.io/skip<N>`` annotation (manifests) in the generated file.
  * hadolint: failure threshold ``warning``, with the project's .hadolint.yaml.
  * bandit: ``src/`` at medium severity and above. Tests are excluded: they ship in no
    runtime image and their idioms (assert, fixed tmp paths, 0.0.0.0 as test data) are
    what bandit flags.
  * secrets: any secret trivy finds in the rendered tree fails.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from .result import FAIL, PASS, Outcome, sarif_result_count
from .tools import ScanError, load_json, run, tail, tool, trivy_convert

BLOCKING = ("HIGH", "CRITICAL")


def render_manifests(project: Path, dest: Path) -> list[Path]:
    """``kubectl kustomize`` of each overlay into ``dest/k8s-<overlay>.yaml`` (none without k8s/)."""
    overlays = project / "k8s" / "overlays"
    if not overlays.is_dir():
        return []
    kubectl = tool("kubectl")
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for overlay in sorted(p for p in overlays.iterdir() if p.is_dir()):
        proc = run([kubectl, "kustomize", str(overlay)])
        if proc.returncode != 0:
            raise ScanError(f"kubectl kustomize {overlay} failed:\n{tail(proc)}")
        path = dest / f"k8s-{overlay.name}.yaml"
        path.write_text(proc.stdout, encoding="utf-8")
        written.append(path)
    return written


def stage_config(project: Path, dest: Path) -> Path:
    """A directory holding what the policy scanners see: the Dockerfile and rendered manifests."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(project / "Dockerfile", dest / "Dockerfile")
    render_manifests(project, dest)
    return dest


def trivy_config(target: Path, out: Path) -> Outcome:
    """Misconfigurations in a Dockerfile / manifests directory; HIGH or CRITICAL fail."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / "trivy-config.json"
    report.unlink(missing_ok=True)
    proc = run(
        [
            tool("trivy"),
            "config",
            "--quiet",
            "--skip-check-update",
            "--format",
            "json",
            "--output",
            str(report),
            str(target),
        ]
    )
    data = load_json(report, proc)
    trivy_convert(report, "sarif", out / "trivy-config.sarif")
    blocking, other = [], 0
    for result in data.get("Results") or []:
        for m in result.get("Misconfigurations") or []:
            if m.get("Status", "FAIL") != "FAIL":
                continue
            if m.get("Severity") in BLOCKING:
                blocking.append(f"{result['Target']}: {m.get('ID')} ({m.get('Severity')}) {m.get('Title')}")
            else:
                other += 1
    note = f"{other} lower-severity finding(s) in the SARIF"
    if blocking:
        return Outcome("trivy-config", FAIL, len(blocking), "\n".join([*blocking, note]))
    return Outcome("trivy-config", PASS, 0, note)


def checkov_env() -> dict[str, str]:
    """checkov's environment: offline, no platform mapping download, no package scan."""
    return {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}


def checkov(target: Path, out: Path) -> Outcome:
    """checkov (dockerfile, kubernetes) offline; every failed check fails, skips need a reason."""
    out.mkdir(parents=True, exist_ok=True)
    work = out / "checkov"
    if work.is_dir():
        shutil.rmtree(work)
    else:
        work.unlink(missing_ok=True)
    work.mkdir()
    proc = run(
        [
            tool("checkov"),
            "--skip-download",
            "--quiet",
            "--compact",
            "-d",
            str(target),
            "--framework",
            "dockerfile",
            "kubernetes",
            "-o",
            "json",
            "-o",
            "sarif",
            "--output-file-path",
            str(work),
        ],
        env=checkov_env(),
    )
    data = load_json(work / "results_json.json", proc)
    if (work / "results_sarif.sarif").is_file():
        shutil.move(work / "results_sarif.sarif", out / "checkov.sarif")
    failed, skipped = [], 0
    for report in data if isinstance(data, list) else [data]:
        results = report.get("results") or {}
        skipped += int((report.get("summary") or {}).get("skipped") or 0)
        for c in results.get("failed_checks") or []:
            failed.append(f"{c.get('file_path')}: {c.get('check_id')} {c.get('check_name')} ({c.get('resource')})")
    note = f"{skipped} check(s) skipped by inline comment"
    if failed or proc.returncode not in (0, 1):
        return Outcome("checkov", FAIL, len(failed), "\n".join([*failed, note]) or tail(proc))
    return Outcome("checkov", PASS, 0, note)


def hadolint(dockerfile: Path, config: Path | None, out: Path) -> Outcome:
    """hadolint at failure threshold ``warning``; the SARIF lists every finding."""
    out.mkdir(parents=True, exist_ok=True)
    cmd = [tool("hadolint"), "--no-color", "--failure-threshold", "warning", "-f", "sarif"]
    if config is not None and config.is_file():
        cmd += ["--config", str(config)]
    proc = run([*cmd, str(dockerfile)])
    sarif = out / "hadolint.sarif"
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ScanError(f"hadolint printed no SARIF (exit {proc.returncode}):\n{tail(proc)}") from exc
    sarif.write_text(proc.stdout, encoding="utf-8")
    results = [r for run_ in data.get("runs", []) for r in run_.get("results") or []]
    blocking = [r for r in results if r.get("level") in ("error", "warning")]
    if proc.returncode != 0 or blocking:
        lines = [
            f"{r['locations'][0]['physicalLocation']['region']['startLine']}: {r.get('ruleId')} {r['message']['text']}"
            for r in blocking
        ]
        return Outcome("hadolint", FAIL, len(blocking), "\n".join(lines) or tail(proc))
    return Outcome("hadolint", PASS, 0, f"{len(results)} info/style finding(s)")


def bandit(src: Path, out: Path) -> Outcome:
    """bandit on a source tree; medium severity and above fails."""
    out.mkdir(parents=True, exist_ok=True)
    sarif = out / "bandit.sarif"
    sarif.unlink(missing_ok=True)
    proc = run([tool("bandit"), "-q", "-r", str(src), "--severity-level", "medium", "-f", "sarif", "-o", str(sarif)])
    if "sarif" in (proc.stderr or "") and "invalid choice" in (proc.stderr or ""):
        raise ScanError("bandit has no SARIF formatter: `pip install bandit-sarif-formatter`")
    if not sarif.is_file():
        raise ScanError(f"bandit wrote no report (exit {proc.returncode}):\n{tail(proc)}")
    data = json.loads(sarif.read_text(encoding="utf-8"))
    results = [r for run_ in data.get("runs", []) for r in run_.get("results") or []]
    if proc.returncode != 0 or results:
        lines = []
        for r in results:
            loc = r["locations"][0]["physicalLocation"]
            where = f"{loc['artifactLocation']['uri']}:{loc['region']['startLine']}"
            lines.append(f"{where}: {r.get('ruleId')} {r['message']['text']}")
        return Outcome("bandit", FAIL, len(results), "\n".join(lines) or tail(proc))
    return Outcome("bandit", PASS, sarif_result_count(sarif))


def secrets_fs(tree: Path, out: Path) -> Outcome:
    """trivy's secret rules over a file tree (``.wheelhouse`` build input left out)."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / "trivy-secrets-tree.json"
    report.unlink(missing_ok=True)
    proc = run(
        [
            tool("trivy"),
            "fs",
            "--quiet",
            "--scanners",
            "secret",
            "--skip-db-update",
            "--skip-dirs",
            ".wheelhouse",
            "--format",
            "json",
            "--output",
            str(report),
            str(tree),
        ]
    )
    data = load_json(report, proc)
    trivy_convert(report, "sarif", out / "trivy-secrets-tree.sarif")
    found = [
        f"{r['Target']}:{s.get('StartLine')}: {s.get('RuleID')} ({s.get('Severity')})"
        for r in data.get("Results") or []
        for s in r.get("Secrets") or []
    ]
    return Outcome("secrets-tree", FAIL if found else PASS, len(found), "\n".join(found))
