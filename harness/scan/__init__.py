"""Security gate for generated variants (`nox -s scan`, `python -m harness.scan`).

Modules: ``static`` (files: trivy config, checkov, hadolint, bandit, secrets in the tree),
``images`` (secrets per layer, leaked build secrets, SBOM, serve-image policy), ``deps``
(pip-audit), ``result`` (outcomes and the summary table), ``runner`` (the CLI).
"""

from __future__ import annotations

from .result import FAIL, PASS, UNAVAILABLE, Outcome
from .runner import main, scan_variant

__all__ = ["FAIL", "PASS", "UNAVAILABLE", "Outcome", "main", "scan_variant"]
