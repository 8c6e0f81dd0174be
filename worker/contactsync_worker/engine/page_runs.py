"""Pages of one source, one after another, for as long as one activity should run.

A workflow that scheduled one activity per page would grow its history with the size of
the book (some six events a page); one activity that works through pages until its time
budget is spent keeps the history of a sync flat in the number of contacts while each page
stays bounded in memory. Every page is committed as ``engine.pages`` commits it (the sync
token only after its writes), and after each one the run's position is reported, so a
retried activity goes on from the last finished page instead of the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from contactsync_api.workflows import SyncSummary
from contactsync_worker.engine import pages
from contactsync_worker.engine.region import RegionRuntime


@dataclass(frozen=True)
class PageRun:
    """How far a stretch of pages got: what they did, and where the source goes on."""

    summary: SyncSummary
    cursor: str | None
    complete: bool = False
    snapshot: bool = False

    @classmethod
    def start(cls, cursor: str | None) -> PageRun:
        return cls(SyncSummary(), cursor)

    def as_details(self) -> dict[str, object]:
        """Plain values, as activity heartbeat details carry them (counts and a cursor)."""
        return {
            "summary": asdict(self.summary),
            "cursor": self.cursor,
            "complete": self.complete,
            "snapshot": self.snapshot,
        }

    @classmethod
    def from_details(cls, details: object) -> PageRun | None:
        """What :meth:`as_details` gave, or None for anything else (an older worker's)."""
        if not isinstance(details, dict):
            return None
        try:
            return cls(
                SyncSummary(**details["summary"]),
                details["cursor"],
                bool(details["complete"]),
                bool(details["snapshot"]),
            )
        except (KeyError, TypeError):
            return None


async def sync_pages(
    region: RegionRuntime,
    run: str,
    source: str,
    start: PageRun,
    *,
    deleted_before: int = 0,
    at: datetime | None = None,
    budget_seconds: float = 0.0,
    max_pages: int = 0,
    report: Callable[[PageRun], None] = lambda _: None,
) -> PageRun:
    """Pages from ``start`` until the source is done or ``budget_seconds`` have passed (at
    least one page), and at most ``max_pages`` pages if it is not 0. ``deleted_before``
    counts what the run deleted before ``start``; ``report`` is told the position after
    every page."""
    if start.complete:  # a retry of an attempt that finished its last page
        return start
    deadline = time.monotonic() + budget_seconds
    done = start
    while True:
        outcome = await pages.sync_page(
            region,
            run,
            source,
            done.cursor,
            deleted_before + done.summary.deleted,
            at,
        )
        done = replace(
            done,
            summary=done.summary.plus(outcome.summary),
            cursor=outcome.cursor,
            complete=outcome.complete,
            snapshot=done.snapshot or outcome.snapshot,
        )
        report(done)
        if done.complete or time.monotonic() >= deadline:
            return done
        if max_pages and done.summary.pages >= max_pages:
            return done
