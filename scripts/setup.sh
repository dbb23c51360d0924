#!/usr/bin/env bash
# Prepare this machine for the harness, once: nox and uv, then a Docker engine with BuildKit,
# Compose v2 and debootstrap (scripts/docker-up.sh). Safe to run again; says what it does.
# SETUP_SKIP_DOCKER=1 prepares only what `nox -s lint unit` needs.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup: ERROR: Python 3.11 or newer is needed as python3" >&2; exit 1; }
say "installing nox and uv ($(python3 --version))"
python3 -m pip install --quiet --disable-pip-version-check -r requirements/bootstrap.txt
command -v kubectl >/dev/null 2>&1 \
    || say "WARNING: kubectl is not on PATH; the kustomize checks in 'nox -s lint' will fail until it is"

if [ "${SETUP_SKIP_DOCKER:-0}" = 1 ]; then
    say "SETUP_SKIP_DOCKER=1: not setting up Docker"
elif [ "$(id -u)" = 0 ]; then
    scripts/docker-up.sh
else
    say "not root: running scripts/docker-up.sh with sudo"
    sudo scripts/docker-up.sh
fi
