# Benchmark floor: the base image plus the runtime dependencies in a bare venv, and
# nothing else (no package, no user, no cleanup). No image with these dependencies on
# this base can be much smaller. Built by harness/bench/builds.py.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS floor
ARG REQUIREMENTS=serve
RUN --mount=type=bind,source=requirements,target=/requirements \
    --mount=type=bind,source=.wheelhouse,target=/wheelhouse \
    --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=secret,id=pipconf,target=/etc/pip.conf \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --find-links /wheelhouse -r /requirements/${REQUIREMENTS}.txt
