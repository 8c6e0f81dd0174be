"""What the figures were measured on: the machine and the versions of everything that ran."""

from __future__ import annotations

import importlib.metadata
import subprocess
from pathlib import Path

from tests.servers.postgres import postgres_bin_dir
from tests.servers.temporal import temporal_cli

from bench.carddav_sync import vdirsyncer
from bench.machine import machine

__all__ = ["machine", "versions"]


def _version(command: Path) -> str:
    return subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def versions() -> dict[str, str]:
    return {
        "vdirsyncer": vdirsyncer.VERSION,
        "radicale": importlib.metadata.version("radicale"),
        "temporalio": importlib.metadata.version("temporalio"),
        "temporal": _version(temporal_cli()),
        "postgres": _version(postgres_bin_dir() / "postgres"),
    }
