"""Where the built server binaries live: a cache outside the clone, keyed by version.

``tests/env/setup.sh`` fills it; the fixtures only read it. The versions here
and in that script must agree, which ``test_toolchain_versions_match_setup``
checks.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.8"
HELM_VERSION = "v4.3.1"
HELM_DOCS_VERSION = "v1.14.2"  # github.com/norwoodj/helm-docs, as tests/env/helm-docs/go.mod
KSTATUS_VERSION = "v0.37.2"  # sigs.k8s.io/cli-utils, as tests/env/kstatus/go.mod requires
ACTIONLINT_VERSION = "v1.7.12"  # github.com/rhysd/actionlint, as tests/env/actionlint/go.mod
# github.com/prometheus/prometheus (Prometheus 3.16.0), as tests/env/promtool/go.mod requires
PROMETHEUS_VERSION = "v0.316.0"


class MissingToolError(RuntimeError):
    """A binary the suite needs is not installed; the message says how to get it."""


def cache_root() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "contactsync"
    return Path(os.environ.get("CONTACTSYNC_CACHE", default))


def bin_dir() -> Path:
    return cache_root() / "bin"


def built_binary(name: str, version: str) -> Path:
    """A binary that setup.sh built from the Go module proxy, e.g. ``kube-apiserver``."""
    path = bin_dir() / f"{name}-{version}"
    if not path.is_file():
        raise MissingToolError(
            f"{path} is missing: run tests/env/setup.sh to build {name} {version}"
        )
    return path


def on_path(name: str, *extra_dirs: str) -> Path:
    """A binary from the venv or a Debian package: the venv first, then PATH and ``extra_dirs``.

    The venv's bin directory is searched even when the venv is not activated, so
    ``.venv/bin/pytest`` finds the ``temporal`` and ``kubectl`` its packages installed.
    """
    venv_bin = str(Path(sys.executable).parent)
    search = os.pathsep.join([venv_bin, os.environ.get("PATH", ""), *extra_dirs])
    found = shutil.which(name, path=search)
    if found is None:
        raise MissingToolError(f"{name} not found on PATH: run tests/env/setup.sh")
    return Path(found)
