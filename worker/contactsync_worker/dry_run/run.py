"""A dry run of one region's sync: the real engine, in this process, against a throwaway copy
of the state and stand-ins for the destinations, so it writes nothing anywhere.

It goes through the sources as the sync workflow does (every page of each, a listing read
again from the start when its cursor expires, a source read whole only counting towards
removals when nothing was set aside), then applies removals under the mass-delete guard,
all with the engine's own functions (``engine.page_runs``, ``engine.removals``): the
pipeline, the merges, the hashes and the guard are the ones a sync runs. What differs:

- the state is a copy (``contactsync_worker.store.copy``) in a temporary directory that is
  deleted at the end: item states, identities, sync tokens, written hashes and audit
  records go there and nowhere else;
- destinations are never contacted (``dry_run.stand_ins``);
- no Temporal client is made: no workflow, activity or schedule exists for a dry run;
- a source that cannot be read is an error (the sync would fail that source's step and
  delete nothing on its account; a dry run that went on would not say what a sync does).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

from contactsync_api.errors import CursorExpired, MassDeleteBlocked, SourceUnavailable
from contactsync_api.workflows import SyncSummary
from contactsync_worker.audit import AuditAction, ChainHead
from contactsync_worker.dry_run.report import (
    DestinationPlan,
    DryRunReport,
    GuardCheck,
    SourceReading,
)
from contactsync_worker.dry_run.stand_ins import DryRunRegion, Tally
from contactsync_worker.engine import page_runs, removals
from contactsync_worker.engine.page_runs import PageRun
from contactsync_worker.main import load_keyring, state_file, store_conninfo
from contactsync_worker.pseudonym_keys import load_pseudonym_keys
from contactsync_worker.settings import WorkerSettings
from contactsync_worker.store import StateStore
from contactsync_worker.store.copy import SqliteReader, copy_scope
from contactsync_worker.store.postgres import DEFAULT_SCHEMA, PostgresReader
from contactsync_worker.store.sqlite import SqliteStore
from contactsync_worker.workflows import MAX_SOURCE_RESTARTS

RUN_PREFIX = "dry-run-"


class SourceNotReadWhole(SourceUnavailable):
    """A source still had pages after the most one run reads (the sync fails its step)."""


class _Stopped(Exception):
    """The guard stopped the run in a source: the refusal and what the source did before."""

    def __init__(self, refusal: MassDeleteBlocked, done: SyncSummary) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal
        self.done = done


async def dry_run(
    settings: WorkerSettings, *, detail: bool = False, values: bool = False
) -> DryRunReport:
    """What a sync of ``settings``' region would create, update and delete in each
    destination, computed by the engine and written nowhere. ``detail``: list each change
    by contact id and field names; ``values``: with the values too (contact data: ask
    for it only where it may be shown)."""
    keyring = load_keyring(settings)
    assert settings.keys_dir is not None  # load_keyring checked it
    keys = load_pseudonym_keys(settings.keys_dir, keyring, settings.region)
    with tempfile.TemporaryDirectory(prefix="contactsync-dry-run-") as workdir:
        store = await throwaway_state(settings, Path(workdir) / "state.sqlite")
        region = DryRunRegion(
            settings.config,
            store,
            keys.current,
            settings.secrets_dir,
            previous_pseudonyms=keys.previous,
            plan_store=store,
            tally=Tally(detail=detail or values, values=values),
        )
        try:
            previous = keys.previous.fingerprint if keys.previous else None
            rekeyed = await store.adopt_pseudonym_key(
                settings.scope, keys.current.fingerprint, previous
            )
            return await _sync(settings, region, rekeyed)
        finally:
            await region.aclose()
            await store.aclose()


async def throwaway_state(settings: WorkerSettings, target: Path) -> SqliteStore:
    """A copy of the region's state at ``target``, read from its real store without a write."""
    conninfo = store_conninfo(settings)
    if conninfo is not None:
        async with PostgresReader.open(conninfo, DEFAULT_SCHEMA) as pg:
            return await copy_scope(pg, settings.scope, target)
    real = state_file(settings.state_dir)
    if not real.exists():  # never synced: the copy starts empty, as the store would
        return await SqliteStore.open(target)
    async with SqliteReader.open(real) as lite:
        return await copy_scope(lite, settings.scope, target)


async def _sync(settings: WorkerSettings, region: DryRunRegion, rekeyed: bool) -> DryRunReport:
    store, scope = region.store, region.scope
    start = await store.audit_head(scope)
    held = {d.name: await store.count_written(scope, d.name) for d in region.config.destinations}
    run = f"{RUN_PREFIX}{uuid4().hex}"
    at = datetime.now(UTC)
    totals = SyncSummary()
    readings: list[SourceReading] = []
    message = ""  # the guard's refusal, when it stops the run
    whole: list[str] = []
    for source in region.source_order:
        try:
            summary, snapshot = await _read_source(settings, region, run, source, totals, at)
        except _Stopped as stopped:
            summary, snapshot, message = stopped.done, False, str(stopped.refusal)
        read_whole = snapshot and summary.quarantined == 0
        totals = totals.plus(summary)
        readings.append(_reading(region, source, summary, read_whole, delta=not snapshot))
        if message:
            break
        if read_whole:
            whole.append(source)
    if not message:
        try:
            totals = totals.plus(
                await removals.apply_removals(region, run, tuple(whole), totals.deleted)
            )
        except MassDeleteBlocked as refused:
            message = str(refused)
    guard = await _guard(region, store, start, held) if message else _allowed(region, held)
    return DryRunReport(
        scope=scope,
        summary=totals,
        destinations=_plans(region, held),
        sources=tuple(readings),
        guard=guard,
        blocked_message=message,
        rekeyed=rekeyed,
        detail=region.tally.detail,
    )


async def _read_source(
    settings: WorkerSettings,
    region: DryRunRegion,
    run: str,
    source: str,
    totals: SyncSummary,
    at: datetime,
) -> tuple[SyncSummary, bool]:
    """Every page of ``source``, as the workflow reads it: what they did, and whether the
    source listed everything it holds (a snapshot) rather than its changes since the last
    sync."""
    done = SyncSummary()
    restarts = 0
    while True:
        position = PageRun.start(None)

        def report(page_run: PageRun) -> None:
            nonlocal position
            position = page_run

        try:
            result = await page_runs.sync_pages(
                region,
                run,
                source,
                position,
                deleted_before=totals.deleted + done.deleted,
                at=at,
                budget_seconds=float("inf"),
                max_pages=settings.max_source_pages,
                report=report,
            )
        except CursorExpired:
            # What the pages before it wrote stays written; the listing is read again.
            done = done.plus(position.summary)
            restarts += 1
            if restarts > MAX_SOURCE_RESTARTS:
                raise
            continue
        except MassDeleteBlocked as refusal:
            # The sync stops here; the pages before this one are written.
            raise _Stopped(refusal, done.plus(position.summary)) from refusal
        done = done.plus(result.summary)
        if not result.complete:
            raise SourceNotReadWhole(
                f"source {source} is not done after {result.summary.pages} pages; a sync "
                "fails its step (raise CONTACTSYNC_MAX_SOURCE_PAGES if the source is that large)"
            )
        return done, result.snapshot


def _reading(
    region: DryRunRegion, source: str, summary: SyncSummary, whole: bool, *, delta: bool
) -> SourceReading:
    return SourceReading(
        source,
        read=region.tally.source(source).read,
        skipped_no_consent=summary.skipped_no_consent,
        skipped_suppressed=summary.skipped_suppressed,
        quarantined=summary.quarantined,
        whole=whole,
        delta=delta,
    )


def _plans(region: DryRunRegion, held: dict[str, int]) -> tuple[DestinationPlan, ...]:
    plans = []
    for destination in region.config.destinations:
        tally = region.tally.destination(destination.name)
        before = held[destination.name]
        plans.append(
            DestinationPlan(
                destination.name,
                created=tally.created,
                updated=tally.updated,
                deleted=tally.deleted,
                unchanged=before - len(tally.touched_held),
                held=before,
                changes=tuple(tally.changes),
            )
        )
    return tuple(plans)


def _allowed(region: DryRunRegion, held: dict[str, int]) -> tuple[GuardCheck, ...]:
    """The guard on each destination the run would delete from, none of them blocked."""
    limit = region.config.deletes.max_delete_percent
    return tuple(
        GuardCheck(name, tally.deleted, held[name], limit, blocked=False)
        for name, tally in region.tally.destinations.items()
        if tally.deleted
    )


async def _guard(
    region: DryRunRegion, store: StateStore, start: ChainHead, held: dict[str, int]
) -> tuple[GuardCheck, ...]:
    """The guard's refusal, as the engine recorded it in the copy's audit trail (counts as
    the engine counts them), after what it allows on the other destinations."""
    refused: dict[str, GuardCheck] = {}
    after = start.seq
    while records := await store.audit_records(region.scope, after_seq=after):
        after = records[-1].seq
        for record in records:
            if record.action == AuditAction.MASS_DELETE_BLOCKED and record.destination:
                detail = record.detail
                refused[record.destination] = GuardCheck(
                    record.destination,
                    int(detail.get("planned") or 0),
                    int(detail.get("held") or 0),
                    int(detail.get("limitPercent") or 0),
                    blocked=True,
                )
    allowed = [v for v in _allowed(region, held) if v.destination not in refused]
    return (*allowed, *refused.values())
