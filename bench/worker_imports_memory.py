"""Resident memory a worker process holds before it reads a single contact: what each of its
large imports adds, in the order the worker needs them, in a fresh process.

    .venv/bin/python -m bench.worker_imports_memory

Each figure is VmRSS after the import, from /proc; a module a previous one already imported
adds nothing.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

MODULES = (
    "temporalio.client",
    "temporalio.worker",
    "pydantic",
    "cryptography.hazmat.primitives.ciphers.aead",
    "httpx",
    "aiohttp",
    "psycopg",
    "ldap3",
    "prometheus_client",
    "yaml",
    "contactsync_api.spec",
    "contactsync_worker.main",
    "contactsync_cli.main",
)


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def probe() -> None:
    """In the fresh process: import each module in turn and print the RSS after each."""
    steps = [("python", rss_mib())]
    for module in MODULES:
        importlib.import_module(module)
        steps.append((module, rss_mib()))
    json.dump(steps, sys.stdout)


def main() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.worker_imports_memory", "--probe"],
        capture_output=True,
        text=True,
        check=True,
    )
    steps = json.loads(result.stdout)
    print("| import | adds MiB | RSS MiB |\n|---|---|---|")
    previous = 0.0
    for module, rss in steps:
        print(f"| {module} | {rss - previous:.1f} | {rss:.1f} |")
        previous = rss


if __name__ == "__main__":
    if sys.argv[1:] == ["--probe"]:
        probe()
    else:
        main()
