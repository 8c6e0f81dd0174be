"""How far a sync run has got, per source, read from Temporal's own record of it.

Every page activity the workflow finished is in its history, with its input (which source)
and its result (what the pages did); a page activity still running reports, in its last
heartbeat, what the pages it finished so far did (contactsync_worker.engine.page_runs). So the
counts here are exactly what the worker committed, a heartbeat behind at most (the SDK sends
one to the server every 24 seconds or so). Nothing in the workflow is asked or changed.

A run that continued as new has a history per workflow run: finished ones are read once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.failure.v1 import Failure
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client

from contactsync_api.workflows import PageInput, PageResult, RemovalsResult, SyncSummary
from contactsync_worker import workflows
from contactsync_worker.engine.page_runs import PageRun

_SCHEDULED = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
_COMPLETED = EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
_CONTINUED = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW


@dataclass
class RunProgress:
    """Counts of one sync run: each source's pages, and the removals at the end."""

    sources: dict[str, SyncSummary] = field(default_factory=dict)
    removals: SyncSummary = field(default_factory=SyncSummary)
    # Pages being retried: source -> (attempt, error type of the last failure).
    retrying: dict[str, tuple[int, str]] = field(default_factory=dict)

    def add(self, source: str, summary: SyncSummary) -> None:
        self.sources[source] = self.sources.get(source, SyncSummary()).plus(summary)

    @property
    def total(self) -> SyncSummary:
        total = SyncSummary()
        for summary in self.sources.values():
            total = total.plus(summary)
        return total.plus(self.removals)


@dataclass
class _Run:
    """What one workflow run's history said so far."""

    run_id: str
    # Scheduling event id -> the source a page activity reads (None: the removals).
    scheduled: dict[int, str | None] = field(default_factory=dict)
    activities: dict[str, str] = field(default_factory=dict)  # activity id -> source
    finished: RunProgress = field(default_factory=RunProgress)
    seen: int = 0  # events read
    next_run: str | None = None  # continued as this run


class RunWatcher:
    """Reads the progress of the sync workflow ``workflow_id``, started as ``run_id``."""

    def __init__(self, client: Client, workflow_id: str, run_id: str) -> None:
        self._client = client
        self._workflow_id = workflow_id
        self._done = RunProgress()  # runs that continued as new
        self._current = _Run(run_id)

    async def progress(self, *, running: bool = True) -> RunProgress:
        """The counts so far; ``running``: add what running page activities reported."""
        while True:
            await self._read_history(self._current)
            if self._current.next_run is None:
                break
            _merge(self._done, self._current.finished)
            self._current = _Run(self._current.next_run)
        progress = RunProgress()
        _merge(progress, self._done)
        _merge(progress, self._current.finished)
        if running:
            await self._add_running(progress)
        return progress

    async def _read_history(self, run: _Run) -> None:
        handle = self._client.get_workflow_handle(self._workflow_id, run_id=run.run_id)
        index = 0
        async for event in handle.fetch_history_events():
            index += 1
            if index <= run.seen:
                continue  # read by an earlier call
            run.seen = index
            await self._read_event(run, event)

    async def _read_event(self, run: _Run, event: HistoryEvent) -> None:
        if event.event_type == _SCHEDULED:
            scheduled = event.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == workflows.SYNC_PAGE:
                [page] = await self._decode(scheduled.input, PageInput)
                run.scheduled[event.event_id] = page.source
                run.activities[scheduled.activity_id] = page.source
            elif scheduled.activity_type.name == workflows.APPLY_REMOVALS:
                run.scheduled[event.event_id] = None
        elif event.event_type == _COMPLETED:
            completed = event.activity_task_completed_event_attributes
            if completed.scheduled_event_id not in run.scheduled:
                return
            source = run.scheduled[completed.scheduled_event_id]
            if source is None:
                [removals] = await self._decode(completed.result, RemovalsResult)
                run.finished.removals = run.finished.removals.plus(removals.summary)
            else:
                [result] = await self._decode(completed.result, PageResult)
                run.finished.add(source, result.summary)
        elif event.event_type == _CONTINUED:
            attributes = event.workflow_execution_continued_as_new_event_attributes
            run.next_run = attributes.new_execution_run_id

    async def _add_running(self, progress: RunProgress) -> None:
        """The pages of activities still running, from their last heartbeat; and which are
        being retried, after what."""
        handle = self._client.get_workflow_handle(self._workflow_id, run_id=self._current.run_id)
        description = await handle.describe()
        for pending in description.raw_description.pending_activities:
            source = self._current.activities.get(pending.activity_id)
            if source is None:
                continue
            if pending.heartbeat_details.payloads:
                details = await self._decode(pending.heartbeat_details, None)
                position = PageRun.from_details(details[0]) if details else None
                if position is not None:
                    progress.add(source, position.summary)
            if pending.attempt > 1:
                progress.retrying[source] = (pending.attempt, _error_type(pending.last_failure))

    async def _decode(self, payloads: Payloads, kind: type[Any] | None) -> list[Any]:
        hints = None if kind is None else [kind] * len(payloads.payloads)
        return await self._client.data_converter.decode(payloads.payloads, hints)


def _error_type(failure: Failure) -> str:
    """The type the worker gave a failure; the server may have wrapped it (a failure it
    cut down to size keeps the worker's as its cause)."""
    current: Failure | None = failure
    while current is not None:
        if current.application_failure_info.type:
            return current.application_failure_info.type
        current = current.cause if current.HasField("cause") else None
    return "a failure"


def _merge(into: RunProgress, other: RunProgress) -> None:
    for source, summary in other.sources.items():
        into.add(source, summary)
    into.removals = into.removals.plus(other.removals)


# The summary table: a column per count, as SyncSummary names them.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("pages", "pages"),
    ("created", "created"),
    ("updated", "updated"),
    ("deleted", "deleted"),
    ("unchanged", "unchanged"),
    ("no consent", "skipped_no_consent"),
    ("erased", "skipped_suppressed"),
    ("quarantined", "quarantined"),
    ("dropped values", "dropped_values"),
    ("held", "held"),
)


def progress_line(source: str, summary: SyncSummary) -> str:
    written = summary.created + summary.updated
    skipped = summary.skipped_no_consent + summary.skipped_suppressed
    return (
        f"source {source}: {summary.pages} page(s) read, {written} written, "
        f"{summary.unchanged} unchanged, {skipped} skipped, {summary.quarantined} quarantined"
    )


def summary_table(progress: RunProgress, order: Iterable[str]) -> list[str]:
    """The run's counts as a table: a row per source (in ``order``), the removals and the
    total."""
    rows: list[tuple[str, SyncSummary]] = [
        (source, progress.sources.get(source, SyncSummary())) for source in order
    ]
    rows.append(("(removals)", progress.removals))
    rows.append(("total", progress.total))
    names = [name for name, _ in COLUMNS]
    width = max(len(row[0]) for row in rows)
    header = "  ".join([" " * width, *names])
    lines = [header]
    for label, summary in rows:
        cells = [str(getattr(summary, attribute)).rjust(len(name)) for name, attribute in COLUMNS]
        lines.append("  ".join([label.ljust(width), *cells]))
    return lines
