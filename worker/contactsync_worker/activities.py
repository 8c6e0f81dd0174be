"""The activities: thin wrappers that run the engine inside the region and translate its
errors into Temporal ApplicationErrors with types a user can search for, logging each once
(``contactsync_worker.failures``).

Each returns counts, cursors and pseudonymous ids only. Failure messages are encoded by
the payload codec as well, and carry no contact data by construction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from contactsync_api.errors import SOURCE_ERRORS, ConfigurationError, ErrorType, Unauthorized
from contactsync_api.workflows import (
    CheckpointInput,
    ErasureRequest,
    ErasureResult,
    PageInput,
    PageResult,
    PurgeResult,
    RegionRunPlan,
    RegionRunRequest,
    RemovalsInput,
    RemovalsResult,
    RetentionResult,
    SubjectIds,
    SuppressionLiftRequest,
    SuppressionLiftResult,
    SyncSummary,
)
from contactsync_worker import authorization, checkpoints, health, workflows
from contactsync_worker.engine import page_runs, removals, subjects, suppression
from contactsync_worker.engine.page_runs import PageRun
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.failures import reported
from contactsync_worker.health import BLOCKED_DELETES, PAGE_SECONDS, SYNCED

log = logging.getLogger(__name__)
T = TypeVar("T")
HEARTBEAT_INTERVAL_SECONDS = 5.0  # well inside workflows.HEARTBEAT_TIMEOUT


class RegionActivities:
    """Activities bound to this worker's region; the worker registers ``all()``."""

    def __init__(
        self,
        region: RegionRuntime,
        source_attempts: int = 8,
        source_retry_seconds: float = 2.0,
        max_source_pages: int = 20_000,
        page_budget_seconds: float = 0.0,
        page_concurrency: int = 1,
    ) -> None:
        self.region = region
        self.source_attempts = source_attempts
        self.max_source_pages = max_source_pages
        self.source_retry_seconds = source_retry_seconds
        self.page_budget_seconds = page_budget_seconds
        self.page_concurrency = page_concurrency

    def _check(self, request: RegionRunRequest) -> None:
        expected = f"{request.namespace}/{request.contact_sync}/{request.region}"
        if expected != self.region.scope:
            wrong = ConfigurationError(f"this worker serves {self.region.scope}, not {expected}")
            raise reported(wrong, f"request for {expected}")

    async def _translated(
        self,
        work: Callable[[], Awaitable[T]],
        doing: str,
        details: Callable[[], tuple[object, ...]] = tuple,
    ) -> T:
        """``work``'s result; its error as the failure Temporal records, logged once.
        ``doing`` names the work in that line; ``details`` what each heartbeat carries."""
        beating = asyncio.create_task(_heartbeat(details))
        try:
            return await work()
        except ApplicationError:
            raise  # already typed by whoever raised it
        except Exception as exc:
            failure = reported(exc, doing)
            if failure.type == ErrorType.MASS_DELETE_BLOCKED:
                BLOCKED_DELETES.inc()
            raise failure from exc
        finally:
            beating.cancel()

    @activity.defn(name=workflows.PLAN_REGION)
    async def plan_region(self, request: RegionRunRequest) -> RegionRunPlan:
        self._check(request)
        config = self.region.config
        return RegionRunPlan(
            sources=tuple(s.name for s in config.sources),
            destinations=tuple(d.name for d in config.destinations),
            source_attempts=self.source_attempts,
            max_source_pages=self.max_source_pages,
            source_retry_seconds=self.source_retry_seconds,
            page_budget_seconds=self.page_budget_seconds,
            page_concurrency=self.page_concurrency,
        )

    @activity.defn(name=workflows.SYNC_PAGE)
    async def sync_page(self, page: PageInput) -> PageResult:
        """Pages of one source from ``page.cursor`` for up to ``page.budget_seconds`` (one
        page when it is 0); a retry goes on from the last page its attempt finished."""
        self._check(page.request)
        resumed = [PageRun.from_details(d) for d in activity.info().heartbeat_details]
        position = next((r for r in resumed if r is not None), PageRun.start(page.cursor))

        def report(done: PageRun) -> None:
            nonlocal position
            position = done
            activity.heartbeat(done.as_details())

        try:
            with PAGE_SECONDS.time():
                outcome = await self._translated(
                    lambda: page_runs.sync_pages(
                        self.region,
                        page.run_id,
                        page.source,
                        position,
                        deleted_before=page.deleted_before,
                        at=_instant(page.started_at),
                        budget_seconds=page.budget_seconds,
                        max_pages=page.max_pages,
                        fan_out=page.fan_out,
                        in_slice=page.in_slice,
                        report=report,
                    ),
                    f"page of source {page.source}",
                    lambda: (position.as_details(),),
                )
        except ApplicationError as exc:
            if exc.type in SOURCE_ERRORS.types:
                health.SOURCE_ERRORS.labels(page.source).inc()
            raise
        _count(outcome.summary)
        _skipped(page.source, outcome.summary)
        return PageResult(
            outcome.summary,
            outcome.cursor,
            outcome.complete,
            outcome.snapshot,
            outcome.slices,
            outcome.checkpoint,
        )

    @activity.defn(name=workflows.COMMIT_CHECKPOINT)
    async def commit_checkpoint(self, commit: CheckpointInput) -> None:
        """A source's sync token, once every slice of its listing is written."""
        self._check(commit.request)
        await self._translated(
            lambda: self.region.store.commit_checkpoint(
                self.region.scope, commit.source, commit.checkpoint
            ),
            f"checkpoint of source {commit.source}",
        )

    @activity.defn(name=workflows.APPLY_REMOVALS)
    async def apply_removals(self, removal: RemovalsInput) -> RemovalsResult:
        self._check(removal.request)
        summary = await self._translated(
            lambda: removals.apply_removals(
                self.region, removal.run_id, removal.completed_sources, removal.deleted_before
            ),
            f"removals of {self.region.scope}",
        )
        _count(summary)
        return RemovalsResult(summary, await self._checkpoint())

    async def _checkpoint(self) -> str:
        """Sign the chain's head now that the run's records are in, and publish it."""
        region = self.region
        if not region.checkpoint_key:
            return ""
        head = await self._translated(
            lambda: region.store.audit_head(region.scope), f"audit checkpoint of {region.scope}"
        )
        token = checkpoints.sign(region.checkpoint_key, region.scope, head).token
        log.info("audit checkpoint of %s: %s", region.scope, token)
        return token

    @activity.defn(name=workflows.APPLY_RETENTION)
    async def apply_retention(self, request: RegionRunRequest) -> RetentionResult:
        self._check(request)
        return await self._translated(
            lambda: subjects.retention(self.region), f"retention of {self.region.scope}"
        )

    @activity.defn(name=workflows.ERASE_SUBJECT)
    async def erase_subject(self, erasure: ErasureRequest) -> ErasureResult:
        self._check(erasure.request)
        self._authorized(authorization.ERASE, erasure.request, erasure.subject)
        # The workflow id names the erasure in the suppression list and the audit trail:
        # a random id, never the subject.
        erasure_id = activity.info().workflow_id or ""
        return await self._translated(
            lambda: subjects.erase(self.region, erasure.subject, erasure_id),
            f"erasure in {self.region.scope}",
        )

    @activity.defn(name=workflows.LIFT_SUPPRESSION)
    async def lift_suppression(self, lift: SuppressionLiftRequest) -> SuppressionLiftResult:
        self._check(lift.request)
        self._authorized(authorization.LIFT, lift.request, lift.subject)
        request_id = activity.info().workflow_id or ""
        return await self._translated(
            lambda: suppression.lift(self.region, lift.subject, request_id),
            f"lift of a suppression in {self.region.scope}",
        )

    @activity.defn(name=workflows.PURGE_REGION)
    async def purge_region(self, request: RegionRunRequest) -> PurgeResult:
        self._check(request)
        self._authorized(authorization.PURGE, request)
        return await self._translated(
            lambda: subjects.purge(self.region), f"purge of {self.region.scope}"
        )

    def _authorized(
        self,
        kind: str,
        request: RegionRunRequest,
        subject: SubjectIds = authorization.NO_SUBJECT,
    ) -> None:
        """Act on no request the region's request key did not sign for this run."""
        try:
            authorization.verify(
                self.region.requests_public_key,
                kind,
                request,
                activity.info().workflow_id or "",  # no workflow: nothing was signed for it
                datetime.now(UTC),
                subject,
            )
        except Unauthorized as exc:
            raise reported(exc, f"{kind} request on {self.region.scope}") from exc

    def all(self) -> list[Callable[..., object]]:
        return [
            self.plan_region,
            self.sync_page,
            self.commit_checkpoint,
            self.apply_removals,
            self.apply_retention,
            self.erase_subject,
            self.lift_suppression,
            self.purge_region,
        ]


def _instant(text: str) -> datetime | None:
    """A workflow's ISO 8601 time; None when it sent none (a run begun by an older worker)."""
    return datetime.fromisoformat(text) if text else None


async def _heartbeat(details: Callable[[], tuple[object, ...]]) -> None:
    """Tell Temporal this worker is alive while a page runs, so a dead one is noticed in
    HEARTBEAT_TIMEOUT rather than after the page's whole start-to-close timeout. Each beat
    carries ``details()``: Temporal keeps the last for the activity's next attempt."""
    while True:
        activity.heartbeat(*details())
        await asyncio.sleep(HEARTBEAT_INTERVAL_SECONDS)


def _skipped(source: str, summary: SyncSummary) -> None:
    """One line a page for the records consent kept out: counts, since an item id can name
    a person (a CardDAV href); the audit trail holds each."""
    if summary.skipped_no_consent:
        log.info(
            "page of source %s: %d record(s) without the required consent not written",
            source,
            summary.skipped_no_consent,
        )


def _count(summary: object) -> None:
    for outcome in (
        "created",
        "updated",
        "deleted",
        "unchanged",
        "skipped_no_consent",
        "skipped_suppressed",
        "quarantined",
    ):
        value = getattr(summary, outcome, 0)
        if value:
            SYNCED.labels(outcome).inc(value)
