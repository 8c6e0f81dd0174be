"""Pages of one source, one after another, for as long as one activity should run.

A workflow that scheduled one activity per page would grow its history with the size of
the book (some six events a page); one activity that works through pages until its time
budget is spent keeps the history of a sync flat in the number of contacts while each page
stays bounded in memory. Every page is committed as ``engine.pages`` commits it (the sync
token only after its writes), and after each one the run's position is reported, so a
retried activity goes on from the last finished page instead of the first.

A source that can address every page of its listing (``Page.fanout``) may instead have
the rest of the listing split into slices after its first page: the workflow then works
the slices at once, on any of the region's workers (``fan_out``). A page of a slice counts
the run's deletions in the state store, which all slices share, and hands its sync token
back for the workflow to commit once every slice is done (``in_slice``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from contactsync_api.workflows import PageSlice, SyncSummary
from contactsync_worker.engine import pages
from contactsync_worker.engine.region import RegionRuntime


@dataclass(frozen=True)
class PageRun:
    """How far a stretch of pages got: what they did, and where the source goes on."""

    summary: SyncSummary
    cursor: str | None
    complete: bool = False
    snapshot: bool = False
    slices: tuple[PageSlice, ...] = ()  # the rest of the listing, to be worked at once
    checkpoint: str = ""  # a slice's last page: the sync token, not committed yet

    @classmethod
    def start(cls, cursor: str | None) -> PageRun:
        return cls(SyncSummary(), cursor)

    @property
    def finished(self) -> bool:
        """Nothing more for this activity: the source is done or handed to slices."""
        return self.complete or bool(self.slices)

    def as_details(self) -> dict[str, object]:
        """Plain values, as activity heartbeat details carry them (counts and cursors)."""
        return {
            "summary": asdict(self.summary),
            "cursor": self.cursor,
            "complete": self.complete,
            "snapshot": self.snapshot,
            "slices": [[part.cursor, part.pages] for part in self.slices],
            "checkpoint": self.checkpoint,
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
                tuple(PageSlice(str(c), int(n)) for c, n in details.get("slices", ())),
                str(details.get("checkpoint", "")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def split(cursors: Sequence[str], parts: int) -> tuple[PageSlice, ...]:
    """The pages named by ``cursors`` (in order) as at most ``parts`` runs of neighbours,
    as even as they come: each slice starts at its first page and goes on page by page."""
    count = min(parts, len(cursors))
    if count < 1:
        return ()
    size, larger = divmod(len(cursors), count)
    slices: list[PageSlice] = []
    start = 0
    for index in range(count):
        pages_here = size + (1 if index < larger else 0)
        slices.append(PageSlice(cursors[start], pages_here))
        start += pages_here
    return tuple(slices)


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
    fan_out: int = 1,
    in_slice: bool = False,
    report: Callable[[PageRun], None] = lambda _: None,
) -> PageRun:
    """Pages from ``start`` until the source is done or ``budget_seconds`` have passed (at
    least one page), and at most ``max_pages`` pages if it is not 0. ``deleted_before``
    counts what the run deleted before ``start``; ``report`` is told the position after
    every page. With ``fan_out`` above 1, a first page of a listing that names the rest
    ends the stretch with the rest split into that many slices."""
    if start.finished:  # a retry of an attempt that had finished
        return start
    deadline = time.monotonic() + budget_seconds
    done = start
    while True:
        outcome = await pages.sync_page(
            region,
            run,
            source,
            done.cursor,
            # In a slice the store counts the run's deletions, these included.
            deleted_before if in_slice else deleted_before + done.summary.deleted,
            at,
            in_slice=in_slice,
        )
        done = replace(
            done,
            summary=done.summary.plus(outcome.summary),
            cursor=outcome.cursor,
            complete=outcome.complete,
            snapshot=done.snapshot or outcome.snapshot,
            checkpoint=outcome.checkpoint or "",
        )
        if fan_out > 1 and outcome.fanout:
            done = replace(done, slices=split(outcome.fanout, fan_out))
        report(done)
        if done.finished or time.monotonic() >= deadline:
            return done
        if max_pages and done.summary.pages >= max_pages:
            return done
