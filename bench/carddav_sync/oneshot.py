"""One ContactSync sync as a whole process: start the region's worker in this process, run
the sync workflow once, print its summary as JSON, exit.

It reads the environment the operator's Deployment gives a worker (contactsync_api.runtime),
plus ``CONTACTSYNC_BENCH_WORKFLOW_ID``. Its wall time is what a one-shot ``contactsync``
costs: the interpreter, the imports, the worker's start, the sync and the shutdown. With
``CONTACTSYNC_BENCH_OWN_SERVER=1`` it first starts a Temporal dev server of its own, as
``contactsync local`` does, instead of using the one the environment names. The bench's
overrides (``bench_worker``) apply as they do to a running worker.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import resource
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from bench.carddav_sync.bench_worker import overridden
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_worker import main as worker_main
from contactsync_worker.codec import data_converter
from contactsync_worker.settings import WorkerSettings, settings_from_env

WORKFLOW_ID = "CONTACTSYNC_BENCH_WORKFLOW_ID"
OWN_SERVER = "CONTACTSYNC_BENCH_OWN_SERVER"


def seconds_since_start() -> float:
    """How long this process has run: its start time in /proc against the uptime."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - ticks / os.sysconf("SC_CLK_TCK")


async def own_server(stack: AsyncExitStack, settings: WorkerSettings) -> WorkerSettings:
    """A dev server started as local mode starts it, stopped when ``stack`` closes; the
    settings pointed at it."""
    from contactsync_cli.local import temporal_binary  # what a user's `contactsync run` runs

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="contactsync-")))
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(temporal_binary()),
        dev_server_database_filename=str(workdir / "temporal.sqlite"),
        dev_server_log_level="error",
        data_converter=data_converter(worker_main.load_keyring(settings)),
    )
    await stack.enter_async_context(environment)
    address = environment.client.service_client.config.target_host
    return dataclasses.replace(settings, temporal_address=address)


async def sync_once(workflow_id: str, start_server: bool) -> dict[str, object]:
    imported = seconds_since_start()
    settings = settings_from_env()
    async with AsyncExitStack() as stack:
        server_started = time.perf_counter()
        if start_server:
            settings = await own_server(stack, settings)
        server_seconds = time.perf_counter() - server_started
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
    usage = resource.getrusage(resource.RUSAGE_SELF)  # this process alone, not a dev server
    return {
        "imports_seconds": imported,
        "server_start_seconds": server_seconds if start_server else None,
        "sync_seconds": synced,
        "own_cpu_seconds": usage.ru_utime + usage.ru_stime,
        "own_peak_rss_kib": usage.ru_maxrss,
        "summary": {
            k: v for k, v in dataclasses.asdict(summary).items() if k != "audit_checkpoint"
        },
    }


def main() -> None:
    start_server = os.environ.get(OWN_SERVER) == "1"
    with overridden(os.environ):
        result = asyncio.run(sync_once(os.environ[WORKFLOW_ID], start_server))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
