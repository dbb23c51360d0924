#!/bin/sh
# Lock the peers' dependencies (<peer>.in -> <peer>.txt) for CPython 3.11 on linux x86_64,
# with the same onnxruntime, numpy and pillow as the sklearn projects' serve lock, so that
# the benchmark compares the serving frameworks, not the runtimes. Needs uv and PyPI.
set -eu
cd "$(dirname "$0")"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
grep -oE '^(numpy|onnxruntime|pillow)==[^ ;]+' ../../../templates/locks/py3.11-sklearn-cpu/serve.txt >"$constraints"
for peer in bentoml litserve kserve; do
    uv pip compile "$peer.in" --constraint "$constraints" --python-version 3.11 \
        --python-platform x86_64-manylinux_2_36 --quiet --no-header --no-annotate --output-file "$peer.txt"
done
