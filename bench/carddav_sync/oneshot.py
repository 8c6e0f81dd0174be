"""One ContactSync sync as a whole process: start the region's worker in this process, run
the sync workflow once on an existing Temporal server, print its summary as JSON, exit.

It reads the environment the operator's Deployment gives a worker (contactsync_api.runtime),
plus ``CONTACTSYNC_BENCH_WORKFLOW_ID``. Its wall time is what a one-shot ``contactsync``
costs: the interpreter, the imports, the worker's start, the sync and the shutdown.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_worker import main as worker_main
from contactsync_worker.settings import settings_from_env

WORKFLOW_ID = "CONTACTSYNC_BENCH_WORKFLOW_ID"


def seconds_since_start() -> float:
    """How long this process has run: its start time in /proc against the uptime."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


async def sync_once(workflow_id: str) -> dict[str, object]:
    imported = seconds_since_start()
    settings = settings_from_env()
    stop = asyncio.Event()
    worker = asyncio.create_task(worker_main.run(settings, stop, handle_signals=False))
    client = await worker_main.connect(settings, worker_main.load_keyring(settings))
    namespace, name = settings.config.contact_sync.split("/", 1)
    started = time.perf_counter()
    try:
        summary = await client.execute_workflow(
            SYNC_WORKFLOW,
            SyncInput(RegionRunRequest(namespace, name, settings.region)),
            id=workflow_id,
            task_queue=settings.task_queue,
            result_type=SyncSummary,
        )
    finally:
        synced = time.perf_counter() - started
        stop.set()
        await worker
    return {
        "imports_seconds": imported,
        "sync_seconds": synced,
        "summary": {
            k: v for k, v in dataclasses.asdict(summary).items() if k != "audit_checkpoint"
        },
    }


def main() -> None:
    result = asyncio.run(sync_once(os.environ[WORKFLOW_ID]))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
