#!/usr/bin/env bash
# Stop the dockerd that scripts/docker-up.sh started (and only that one).
set -euo pipefail
STATE_DIR="${DOCKER_UP_STATE_DIR:-/var/run/ml-container-template}"
PIDFILE="$STATE_DIR/dockerd.pid"
say() { printf 'docker-down: %s\n' "$*"; }

if [ ! -f "$PIDFILE" ]; then
    say "no pidfile at $PIDFILE: dockerd was not started by docker-up.sh; leaving it alone"
    exit 0
fi
pid="$(cat "$PIDFILE")"
if ! kill -0 "$pid" 2>/dev/null; then
    say "dockerd (pid $pid) is not running; removing stale pidfile"
    rm -f "$PIDFILE"
    exit 0
fi
if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
    say "pid $pid is not dockerd (pid reused?); removing stale pidfile, stopping nothing"
    rm -f "$PIDFILE"
    exit 0
fi
say "stopping dockerd (pid $pid)"
kill -TERM "$pid"
for _ in $(seq 30); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; say "stopped"; exit 0; }
    sleep 1
done
say "dockerd did not stop within 30s; sending KILL"
kill -KILL "$pid" 2>/dev/null || true
rm -f "$PIDFILE"
