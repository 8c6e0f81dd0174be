"""The workflows: deterministic orchestration only. Every read and write of contact data
happens in activities inside the region; workflows see counts, cursors and names.

Activities are called by name, so this module imports no adapter code at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from contactsync_api.errors import DESTINATION_ERRORS, NON_RETRYABLE, ErrorType
    from contactsync_api.workflows import (
        ERASURE_WORKFLOW,
        PURGE_WORKFLOW,
        RETENTION_WORKFLOW,
        SUPPRESSION_LIFT_WORKFLOW,
        SYNC_WORKFLOW,
        CheckpointInput,
        ErasureRequest,
        ErasureResult,
        PageInput,
        PageResult,
        PageSlice,
        PurgeResult,
        RegionRunPlan,
        RegionRunRequest,
        RemovalsInput,
        RemovalsResult,
        RetentionResult,
        SourceFailure,
        SuppressionLiftRequest,
        SuppressionLiftResult,
        SyncInput,
        SyncProgress,
        SyncSummary,
    )

# Activity names: the worker registers its functions under these.
PLAN_REGION = "plan_region"
SYNC_PAGE = "sync_page"
COMMIT_CHECKPOINT = "commit_checkpoint"
APPLY_REMOVALS = "apply_removals"
APPLY_RETENTION = "apply_retention"
ERASE_SUBJECT = "erase_subject"
LIFT_SUPPRESSION = "lift_suppression"
PURGE_REGION = "purge_region"

T = TypeVar("T")

# Page activities per workflow run before continue-as-new: history grows by a few events
# each (an activity works through pages for PAGE_BUDGET).
PAGES_PER_RUN = 200


# Never retried, whichever activity raised them (the activities mark them so as well).
NON_RETRYABLE_TYPES = tuple(t.value for t in NON_RETRYABLE)


def source_retry(plan: RegionRunPlan) -> RetryPolicy:
    """A source that stays unreachable this long fails its step; nothing is deleted for it."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=plan.source_retry_seconds),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=2),
        maximum_attempts=plan.source_attempts,
        non_retryable_error_types=NON_RETRYABLE_TYPES,
    )


WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=2),
    maximum_attempts=8,
    non_retryable_error_types=NON_RETRYABLE_TYPES,
)
PAGE_TIMEOUT = timedelta(minutes=10)
# Page failures that are not about the source being read: they stop the run under their own
# type instead of failing that source's step.
RUN_STOPPERS = frozenset(
    {
        ErrorType.MASS_DELETE_BLOCKED,
        ErrorType.STORE_UNAVAILABLE,
        *DESTINATION_ERRORS.types,
    }
)
# A worker that dies mid-page (kill -9, node loss) stops heartbeating; after this long the
# page is retried on another worker instead of waiting out PAGE_TIMEOUT.
HEARTBEAT_TIMEOUT = timedelta(seconds=30)
# A source read again from the start because its cursor expired, at most this often a run.
MAX_SOURCE_RESTARTS = 3


@workflow.defn(name=SYNC_WORKFLOW)
class ContactSyncWorkflow:
    """One sync run of one region: every source page by page, then removals under the guard."""

    def __init__(self) -> None:
        self.pages = 0  # pages read in this workflow run (not across continue-as-new)

    @workflow.run
    async def run(self, sync: SyncInput) -> SyncSummary:
        request = sync.request
        progress = sync.progress or SyncProgress(
            run_id=workflow.info().workflow_id, started_at=workflow.now().isoformat()
        )
        plan = await workflow.execute_activity(
            PLAN_REGION,
            request,
            result_type=RegionRunPlan,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=WRITE_RETRY,
        )
        for index in range(progress.source_index, len(plan.sources)):
            progress = await self._read_source(plan, request, progress, index)
        removals = await workflow.execute_activity(
            APPLY_REMOVALS,
            RemovalsInput(
                request, progress.run_id, progress.completed_sources, progress.totals.deleted
            ),
            result_type=RemovalsResult,
            start_to_close_timeout=PAGE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=WRITE_RETRY,
        )
        totals = replace(
            progress.totals.plus(removals.summary), audit_checkpoint=removals.checkpoint
        )
        if progress.failed_sources:
            raise sources_failed(progress)
        return totals

    async def _read_source(
        self, plan: RegionRunPlan, request: RegionRunRequest, progress: SyncProgress, index: int
    ) -> SyncProgress:
        """Every page of one source. A full read that set records aside proves nothing about
        absent ones, so only a clean full read lets removals count on this source."""
        source = plan.sources[index]
        resumed = index == progress.source_index
        cursor = progress.cursor if resumed else None
        snapshot = progress.source_is_snapshot if resumed else False
        quarantined = progress.source_quarantined if resumed else False
        pages_read = progress.source_pages if resumed else 0
        restarts = 0
        while True:
            if self.pages >= PAGES_PER_RUN or workflow.info().is_continue_as_new_suggested():
                here = replace(
                    progress,
                    source_index=index,
                    cursor=cursor,
                    source_is_snapshot=snapshot,
                    source_quarantined=quarantined,
                    source_pages=pages_read,
                )
                workflow.continue_as_new(SyncInput(request, here))
            try:
                page = await self._page(
                    plan,
                    request,
                    progress,
                    source,
                    cursor,
                    plan.max_source_pages - pages_read,
                    fan_out=plan.page_concurrency,
                )
                if page.slices:
                    # The first page of a listing that can be worked in slices: the rest
                    # of it is worked at once, and the run goes on from where it ends.
                    progress = replace(progress, totals=progress.totals.plus(page.summary))
                    pages_read += page.summary.pages
                    snapshot = snapshot or page.snapshot
                    quarantined = quarantined or page.summary.quarantined > 0
                    page = await self._slices(plan, request, progress, source, page.slices)
            except ActivityError as failure:
                cause = failure.cause
                if isinstance(cause, ApplicationError) and cause.type in RUN_STOPPERS:
                    # Not this source's fault: a page's merges would delete too much, or a
                    # destination or the store is down. The run stops and says which.
                    raise ApplicationError(
                        cause.message, type=cause.type, non_retryable=True
                    ) from failure
                expired = (
                    isinstance(cause, ApplicationError) and cause.type == ErrorType.CURSOR_EXPIRED
                )
                if expired and restarts < MAX_SOURCE_RESTARTS:
                    # The source changed under the run (or its paging session is gone):
                    # read it again from the start.
                    restarts += 1
                    cursor, snapshot, quarantined = None, False, False
                    continue
                # Unreachable, refused, missing or failing: this source's step fails, the
                # others go on, and nothing is deleted on its account.
                return source_failed(progress, why(source, failure))
            pages_read += page.summary.pages
            progress = replace(progress, totals=progress.totals.plus(page.summary))
            cursor = page.cursor
            snapshot = snapshot or page.snapshot
            quarantined = quarantined or page.summary.quarantined > 0
            if page.checkpoint:
                # Slices hand the sync token back: committed once every one of them is done.
                await workflow.execute_activity(
                    COMMIT_CHECKPOINT,
                    CheckpointInput(request, source, page.checkpoint),
                    start_to_close_timeout=timedelta(minutes=1),
                    retry_policy=WRITE_RETRY,
                )
                self.pages += 1
            if page.complete:
                if snapshot and not quarantined:
                    done = (*progress.completed_sources, source)
                    progress = replace(progress, completed_sources=done)
                return replace(progress, cursor=None)
            if pages_read >= plan.max_source_pages:
                # What it sent so far is written; nothing is deleted on its account.
                workflow.logger.warning(
                    "source %s is not done after %d pages in one run; its step fails",
                    source,
                    pages_read,
                )
                endless = SourceFailure(
                    source,
                    ErrorType.SOURCE_UNAVAILABLE.value,
                    f"source {source} is not done after {pages_read} pages in one run",
                )
                return source_failed(replace(progress, cursor=None), endless)

    async def _page(
        self,
        plan: RegionRunPlan,
        request: RegionRunRequest,
        progress: SyncProgress,
        source: str,
        cursor: str | None,
        max_pages: int,
        *,
        fan_out: int = 1,
        in_slice: bool = False,
    ) -> PageResult:
        """One page activity: from ``cursor``, for at most ``max_pages`` pages and the
        plan's time budget."""
        page = PageInput(
            request,
            progress.run_id,
            source,
            cursor,
            progress.totals.deleted,
            progress.started_at,
            plan.page_budget_seconds,
            max_pages,
            fan_out=fan_out,
            in_slice=in_slice,
        )
        result: PageResult = await workflow.execute_activity(
            SYNC_PAGE,
            page,
            result_type=PageResult,
            start_to_close_timeout=PAGE_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=source_retry(plan),
        )
        self.pages += 1
        return result

    async def _slices(
        self,
        plan: RegionRunPlan,
        request: RegionRunRequest,
        progress: SyncProgress,
        source: str,
        slices: tuple[PageSlice, ...],
    ) -> PageResult:
        """Work the slices of a listing at once and add up what they did: the last slice
        ends where the listing does (complete, or a cursor to the next listing). The first
        slice to fail fails them all, once every one has stopped."""
        done = await asyncio.gather(
            *(self._slice(plan, request, progress, source, part) for part in slices),
            return_exceptions=True,
        )
        for outcome in done:
            if isinstance(outcome, BaseException):
                raise outcome
        results = [r for r in done if isinstance(r, PageResult)]
        summary = SyncSummary()
        for result in results:
            summary = summary.plus(result.summary)
        last = results[-1]
        return replace(last, summary=summary, snapshot=any(r.snapshot for r in results), slices=())

    async def _slice(
        self,
        plan: RegionRunPlan,
        request: RegionRunRequest,
        progress: SyncProgress,
        source: str,
        part: PageSlice,
    ) -> PageResult:
        """One slice's pages, an activity (on any worker) after another until they are done."""
        cursor: str | None = part.cursor
        left = part.pages
        summary = SyncSummary()
        snapshot = False
        while True:
            result = await self._page(plan, request, progress, source, cursor, left, in_slice=True)
            summary = summary.plus(result.summary)
            snapshot = snapshot or result.snapshot
            left -= result.summary.pages
            if result.complete or left <= 0 or result.cursor is None:
                return replace(result, summary=summary, snapshot=snapshot)
            cursor = result.cursor


def why(source: str, failure: ActivityError) -> SourceFailure:
    """What made a source's step fail: the type and words the worker gave, or Temporal's
    (a page that timed out)."""
    cause = failure.cause
    if isinstance(cause, ApplicationError):
        return SourceFailure(source, cause.type or ErrorType.UNEXPECTED.value, cause.message)
    return SourceFailure(
        source, ErrorType.SOURCE_UNAVAILABLE.value, f"source {source}: {cause or failure}"
    )


def source_failed(progress: SyncProgress, failure: SourceFailure) -> SyncProgress:
    return replace(
        progress,
        failed_sources=(*progress.failed_sources, failure.source),
        failures=(*progress.failures, failure),
    )


def sources_failed(progress: SyncProgress) -> ApplicationError:
    """The run's failure when sources failed their steps: the type of the first failure, so
    status says what it was (refused, not found, unreachable, misconfigured), and each one's
    words."""
    names = ", ".join(progress.failed_sources)
    failures = progress.failures
    if not failures:  # carried over from a worker that did not record why
        return ApplicationError(
            f"sources {names} could not be read; nothing was deleted on their account",
            type=ErrorType.SOURCE_UNAVAILABLE.value,
            non_retryable=True,
        )
    reasons = "; ".join(f.message for f in failures)
    which = "source" if len(progress.failed_sources) == 1 else "sources"
    return ApplicationError(
        f"{reasons}; nothing was deleted on account of {which} {names}",
        type=failures[0].type,
        non_retryable=True,
    )


async def _write_step(activity: str, arg: object, result_type: type[T]) -> T:
    """The one activity of a single-step workflow (retention, erasure, lift, purge): it
    writes, so it runs under the write retry policy."""
    result: T = await workflow.execute_activity(
        activity,
        arg,
        result_type=result_type,
        start_to_close_timeout=PAGE_TIMEOUT,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=WRITE_RETRY,
    )
    return result


@workflow.defn(name=RETENTION_WORKFLOW)
class RetentionWorkflow:
    """Removes what outlived the retention periods and reports what it removed."""

    @workflow.run
    async def run(self, request: RegionRunRequest) -> RetentionResult:
        return await _write_step(APPLY_RETENTION, request, RetentionResult)


@workflow.defn(name=ERASURE_WORKFLOW)
class ErasureWorkflow:
    """Erases one data subject from every destination and the sync state, and audits it."""

    @workflow.run
    async def run(self, erasure: ErasureRequest) -> ErasureResult:
        return await _write_step(ERASE_SUBJECT, erasure, ErasureResult)


@workflow.defn(name=SUPPRESSION_LIFT_WORKFLOW)
class SuppressionLiftWorkflow:
    """Lifts the suppression erasures left on a data subject, so later syncs write them."""

    @workflow.run
    async def run(self, lift: SuppressionLiftRequest) -> SuppressionLiftResult:
        return await _write_step(LIFT_SUPPRESSION, lift, SuppressionLiftResult)


@workflow.defn(name=PURGE_WORKFLOW)
class PurgeWorkflow:
    """Deletes everything this ContactSync wrote in the region (deletionPolicy: Purge)."""

    @workflow.run
    async def run(self, request: RegionRunRequest) -> PurgeResult:
        return await _write_step(PURGE_REGION, request, PurgeResult)


WORKFLOWS = [
    ContactSyncWorkflow,
    RetentionWorkflow,
    ErasureWorkflow,
    SuppressionLiftWorkflow,
    PurgeWorkflow,
]
