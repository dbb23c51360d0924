"""Security gate for generated variants (`nox -s scan`, `python -m harness.scan`).

Modules: ``static`` (files: trivy config, checkov, hadolint, bandit, secrets in the tree),
``images`` (secrets per layer, leaked build secrets, SBOM, serve-image policy), ``deps``
(pip-audit), ``result`` (outcomes and the summary table), ``runner`` (the CLI).

Importing the package imports none of them: the static checks (which `nox -s lint` runs on
manifests) must not pull in the Docker pipeline that ``runner`` needs.
"""
