#!/usr/bin/env bash
# Deploy the dev overlay to a kind cluster and check it end to end: the training Job
# completes, the serving Deployment rolls out, /readyz answers 200 and a prediction works.
# Needs docker, kind and kubectl{% if cookiecutter.ci == "github" %}; CI runs it on a GitHub runner (.github/workflows/ci.yml){% endif %}.
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER="${KIND_CLUSTER:-{{ cookiecutter.project_slug }}}"
NAMESPACE="{{ cookiecutter.project_slug }}-dev"
IMAGE="{{ cookiecutter.image_registry }}/{{ cookiecutter.image_name }}"
VERSION="{{ cookiecutter.version }}"

for tool in docker kind kubectl; do
    command -v "$tool" >/dev/null || { echo "kind-deploy: $tool is not installed" >&2; exit 1; }
done

export DOCKER_BUILDKIT=1
docker build --target train --tag "$IMAGE:$VERSION-train" .
docker build --target serve --tag "$IMAGE:$VERSION-serve" .

kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER" --wait 120s
kind load docker-image --name "$CLUSTER" "$IMAGE:$VERSION-train" "$IMAGE:$VERSION-serve"

kubectl apply -k k8s/overlays/dev
kubectl -n "$NAMESPACE" wait --for=condition=complete --timeout=15m job/{{ cookiecutter.project_slug }}-train
kubectl -n "$NAMESPACE" rollout status --timeout=10m deployment/{{ cookiecutter.project_slug }}-serve

kubectl -n "$NAMESPACE" port-forward service/{{ cookiecutter.project_slug }}-serve 18000:{{ cookiecutter.serve_port }} &
forward=$!
trap 'kill "$forward"' EXIT
for _ in $(seq 30); do
    curl -fsS http://127.0.0.1:18000/readyz && break
    sleep 2
done
python3 - <<'PY'
import base64, io, json, urllib.request
import zlib, struct

def png(width=8, height=8):
    # A tiny grey PNG, written with the standard library only.
    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

body = json.dumps({"images": [base64.b64encode(png()).decode()]}).encode()
request = urllib.request.Request(
    "http://127.0.0.1:18000/v1/predict", data=body, headers={"Content-Type": "application/json"}
)
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.load(response))
PY
echo "kind-deploy: ok"
