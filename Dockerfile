# syntax=docker/dockerfile:1
# The ContactSync image: one `contactsync` entry point for the operator (`contactsync operator`)
# and the region workers (`contactsync worker`). This file is the only recipe:
#   docker build -t ghcr.io/contactsync/contactsync:0.1.0 .
# Without a Docker engine, tests/env/build-image.sh builds this same file with buildah on a
# Debian base made locally (BASE_IMAGE), for the test suite and CI.
#
# The image expects: UID/GID 10001 (any non-root UID works), a read-only root filesystem,
# and a writable /tmp (the chart and the operator mount an emptyDir there).

# Debian 12 point release; pin a digest too where your registry policy asks for one.
ARG BASE_IMAGE=debian:12.12-slim

FROM ${BASE_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/contactsync
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY cli cli
COPY operator operator
COPY worker worker
# pip and setuptools are build tools: they leave with this stage. Behind a TLS-inspecting
# proxy, pass its CA bundle as the build secret `pip-ca`; it never lands in a layer.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && /opt/contactsync/bin/pip install --no-cache-dir --disable-pip-version-check . \
    && /opt/contactsync/bin/pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG DEBIAN_FRONTEND=noninteractive
LABEL org.opencontainers.image.title="contactsync" \
      org.opencontainers.image.description="ContactSync operator and Temporal workers for privacy-compliant contact synchronization" \
      org.opencontainers.image.source="https://github.com/contactsync/contactsync" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The interpreter and the CA bundle only: no compiler, no pip, no package cache.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
    && groupadd --system --gid 10001 contactsync \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin contactsync
COPY --from=build /opt/contactsync /opt/contactsync
# Bytecode was compiled at install time; a read-only root filesystem cannot take more.
ENV PATH=/opt/contactsync/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["contactsync"]
CMD ["--help"]
