# Benchmark baseline: the usual first Dockerfile of an ML project, for comparison only.
# One stage from the same base image: copy the project's source first, then install the
# requirements and the package as root into the system Python (pip, the build tools and
# the copied source stay in the image; any source edit reinstalls every dependency).
# Built by harness/bench/builds.py with the same wheelhouse and pip.conf secret as
# harness/build.py. It copies what the package needs (not `COPY . .`, which would also copy
# the bind-mounted .wheelhouse/) and uses --no-cache-dir, so it is not a straw man.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE} AS naive
ARG REQUIREMENTS=serve
# python:X-slim ships pip; the air-gapped bootstrap base (harness/base_image.py) has only
# venv/ensurepip, so a venv stands in for the system pip python:X-slim would have.
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml /app/pyproject.toml
COPY requirements /app/requirements
COPY src /app/src
RUN --mount=type=bind,source=.wheelhouse,target=/wheelhouse \
    --mount=type=secret,id=ca,target=/run/secrets/ca \
    --mount=type=secret,id=pipconf,target=/etc/pip.conf \
    pip install --no-cache-dir --find-links /wheelhouse -r requirements/${REQUIREMENTS}.txt \
    && pip install --no-cache-dir --no-deps --find-links /wheelhouse /app
