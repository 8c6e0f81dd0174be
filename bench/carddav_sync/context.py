"""What the figures were measured on: the machine and the versions of everything that ran."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from tests.servers.postgres import postgres_bin_dir
from tests.servers.temporal import temporal_cli

from bench.carddav_sync import vdirsyncer


def machine() -> dict[str, Any]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "cpus": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(int(memory) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


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
