"""What a benchmark ran on: the machine's CPUs, memory, kernel and Python, for its JSON."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


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
        # Other work on a shared machine slows what is measured: say how much there was.
        "load_average": os.getloadavg(),
    }


def versions(packages: Iterable[str], postgres_dsn: str) -> dict[str, str]:
    """The versions a run used: the Python packages named, PostgreSQL's, the Temporal CLI's
    and the commit of this checkout."""
    import psycopg
    from tests.servers.temporal import temporal_cli

    with psycopg.connect(postgres_dsn) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    temporal = subprocess.run(
        [str(temporal_cli()), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        **{name: importlib.metadata.version(name) for name in packages},
        "postgresql": str(row[0]) if row else "",
        "temporal": temporal,
        "commit": commit,
    }
