"""Watching one sync of a region in a local run: its progress while it runs, its summary
table when it ends, and how it ended (done, failed and why, or stopped by a signal)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from contactsync_api.errors import ContactSyncError
from contactsync_api.workflows import SyncSummary
from contactsync_cli.exit_codes import EXIT_INVALID, EXIT_SYNC_FAILED
from contactsync_cli.progress import RunProgress, RunWatcher, progress_line, summary_table
from contactsync_cli.run_failures import SyncFailure, application_failure, failure_of
from contactsync_worker.keyring import KeyringError
from contactsync_worker.settings import WorkerConfigError

Report = Callable[[str], None]
# How often a running sync's progress is read; a line is printed only when counts changed.
PROGRESS_SECONDS = 2.0


@dataclass
class RegionWorker:
    """A region of the ContactSync being run, and its worker (a task of this process)."""

    name: str
    task_queue: str
    worker: asyncio.Task[None]
    sources: tuple[str, ...]
    watched: set[str] = field(default_factory=set)  # scheduled syncs already reported


@dataclass(frozen=True)
class Watch:
    """What watching a ContactSync's syncs needs: its dev server, where its Secrets are
    (for the words of a missing one), where to report, and the signal to stop."""

    client: Client
    contact_sync: str  # NAMESPACE/NAME
    secrets_dir: Path
    report: Report
    stop: asyncio.Event


@dataclass
class RegionOutcome:
    """How one sync of a region ended: done, failed (and why), or stopped by a signal."""

    contact_sync: str
    region: str
    summary: SyncSummary | None = None
    failure: SyncFailure | None = None
    interrupted: bool = False


async def watch_sync(
    watch: Watch, region: RegionWorker, workflow_id: str, run_id: str
) -> RegionOutcome:
    """Report a sync's progress until it ends, its worker dies or ``stop`` is set (then the
    sync is terminated: what its pages wrote stays, and the next run goes on from there)."""
    outcome = RegionOutcome(watch.contact_sync, region.name)
    result = asyncio.create_task(watch.client.get_workflow_handle(workflow_id).result())
    stopped = asyncio.create_task(watch.stop.wait())
    watcher = RunWatcher(watch.client, workflow_id, run_id)
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
                await _terminate(watch.client, workflow_id)
                if region.worker in done:
                    outcome.failure = worker_failure(region.worker)
                else:
                    outcome.interrupted = True
                break
            _show(await watcher.progress(), shown, watch.report)
        progress = await watcher.progress(running=False)
    finally:
        stopped.cancel()
    for line in summary_table(progress, region.sources):
        watch.report(f"  {line}")
    if result.done() and not outcome.failure and not outcome.interrupted:
        try:
            outcome.summary = result.result()
        except WorkflowFailureError as exc:
            outcome.failure = failure_of(exc, watch.secrets_dir)
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


def report_outcome(outcome: RegionOutcome, report: Report, error: Report) -> None:
    """One line for a region's sync: done, interrupted, or the error line of its failure."""
    where = f"{outcome.contact_sync} region {outcome.region}"
    if outcome.failure is not None:
        error(f"{where}: {outcome.failure.words}")
    elif outcome.interrupted:
        report(f"{where}: interrupted; what it wrote stays, the next run goes on from there")
    elif outcome.summary is not None:
        report(f"{where}: synced")
