"""Contacts that left their sources: held for the grace period, then deleted downstream
under the mass-delete guard, which deletes nothing when a run would delete too much.
``settle`` is what taking records out of their contacts means, grace or not."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import NoReturn

from contactsync_api.durations import to_timedelta
from contactsync_api.errors import MassDeleteBlocked
from contactsync_api.workflows import SyncSummary
from contactsync_worker.audit import AuditAction, AuditEvent
from contactsync_worker.contacts.model import Contact
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.engine.writes import current_contributions, delete_everywhere, write_merged
from contactsync_worker.store import ItemKey, ItemState

log = logging.getLogger(__name__)
BATCH = 500


@dataclass(frozen=True)
class GuardVerdict:
    destination: str
    planned: int
    held: int
    limit_percent: int

    @property
    def blocked(self) -> bool:
        return self.held > 0 and self.planned * 100 > self.limit_percent * self.held


async def mark_unseen(region: RegionRuntime, run: str, sources: tuple[str, ...]) -> int:
    """Items of sources read whole in ``run`` that the run did not see are gone from them."""
    marked = 0
    for source in sources:
        while unseen := await region.store.unseen_items(region.scope, source, run, limit=BATCH):
            marked += await region.store.mark_removed(
                region.scope, source, [i.item_id for i in unseen]
            )
    return marked


async def _removed(region: RegionRuntime, grace: timedelta) -> list[ItemState]:
    """Items removed at least ``grace`` ago, all pages."""
    found: list[ItemState] = []
    after: ItemKey | None = None
    while batch := await region.store.removed_items(region.scope, grace, after=after, limit=BATCH):
        found += batch
        after = ItemKey(batch[-1].source, batch[-1].item_id)
    return found


async def apply_removals(
    region: RegionRuntime,
    run: str | None,
    snapshot_sources: tuple[str, ...],
    deleted_before: int = 0,
) -> SyncSummary:
    """Mark what the run did not see, then act on every removal whose grace has passed."""
    if run is not None:
        await mark_unseen(region, run, snapshot_sources)
        await region.store.forget_run(region.scope, run)
    grace = to_timedelta(region.config.retention.removed_contacts)
    due = await _removed(region, grace)
    held = len(await _removed(region, timedelta(0))) - len(due) if grace else 0
    if not due:
        return SyncSummary(held=held)
    settled = await settle(region, due, deleted_before, delete=region.config.deletes.propagate)
    return replace(settled, held=held)


async def settle(
    region: RegionRuntime,
    items: list[ItemState],
    deleted_before: int = 0,
    *,
    delete: bool,
    fresh: Iterable[Contact] = (),
    reasons: Mapping[str, str] | None = None,
) -> SyncSummary:
    """Take ``items``, already marked removed, out of their contacts: a contact another
    source still provides is rewritten without them; one no source provides any more is
    deleted downstream (when ``delete``), unless that would trip the guard. Then the store
    forgets the items. ``fresh``: records of the current page, used as they are;
    ``reasons``: contact_id → why, for the audit."""
    store, scope = region.store, region.scope
    contact_ids = sorted({i.contact_id for i in items})
    contributions = await current_contributions(region, contact_ids, fresh)
    survivors = {i: c for i, c in contributions.items() if c}
    gone = [i for i in contact_ids if i not in survivors]
    if gone and delete:
        await check_deletions(region, gone, deleted_before)
    summary = await write_merged(region, survivors, reasons)
    deleted = 0
    if gone and delete:
        deleted = await delete_everywhere(region, gone, reasons)
    for source in {i.source for i in items}:
        await store.forget_items(scope, source, [i.item_id for i in items if i.source == source])
    identities = await store.identities_of(scope, gone)
    await store.unbind_identities(scope, [p for ps in identities.values() for p in ps])
    return SyncSummary(created=summary.created, updated=summary.updated, deleted=deleted)


async def guard(
    region: RegionRuntime, contact_ids: list[str], deleted_before: int = 0
) -> list[GuardVerdict]:
    """What deleting ``contact_ids`` would do to each destination, counting the
    ``deleted_before`` deletions this run already made (merges in its pages): a run may not
    get past the limit a few deletions at a time. Those are counted against every
    destination, an upper bound where a run wrote to several."""
    limit = region.config.deletes.max_delete_percent
    if not contact_ids:
        return []
    planned: dict[str, int] = {}
    for destination in region.config.destinations:
        held_here = await region.store.written_hashes(region.scope, destination.name, contact_ids)
        if held_here:
            planned[destination.name] = len(held_here)
    if not planned:
        return []
    shared = region.shared_deletions
    if shared is not None:
        # Pages working at once: what the others deleted is in the store, not in
        # deleted_before; reserving these deletions there first keeps the count exact
        # however the pages interleave.
        most = max(planned.values())
        total = await region.store.reserve_deletions(region.scope, shared.run, most)
        deleted_before = shared.before + total - most
    verdicts: list[GuardVerdict] = []
    for name, count in planned.items():
        # Counted only when something would go: it reads every row the scope wrote.
        held = await region.store.count_written(region.scope, name)
        if shared is None:
            held += deleted_before  # what the destination held when the run began
        else:
            held = await region.store.run_held(region.scope, shared.run, name, held + shared.before)
        verdicts.append(GuardVerdict(name, count + deleted_before, held, limit))
    return verdicts


async def check_guard(
    region: RegionRuntime, contact_ids: list[str], deleted_before: int = 0
) -> None:
    """Raise MassDeleteBlocked, deleting nothing, when these deletions trip the guard (only
    when deletions propagate: otherwise there are none)."""
    if region.config.deletes.propagate:
        await check_deletions(region, contact_ids, deleted_before)


async def check_deletions(
    region: RegionRuntime, contact_ids: list[str], deleted_before: int = 0
) -> None:
    """Raise MassDeleteBlocked, deleting nothing, when deleting ``contact_ids`` trips the
    guard, whether or not source deletions propagate."""
    blocked = [v for v in await guard(region, contact_ids, deleted_before) if v.blocked]
    if blocked:
        await refuse(region, blocked)


async def blocked(
    region: RegionRuntime, contact_ids: list[str], deleted_before: int = 0
) -> list[GuardVerdict]:
    """What check_guard would refuse, without refusing: the verdicts that block."""
    if not region.config.deletes.propagate:
        return []
    return [v for v in await guard(region, contact_ids, deleted_before) if v.blocked]


async def refuse(region: RegionRuntime, blocked: list[GuardVerdict]) -> NoReturn:
    """Delete nothing and keep every removal flagged, so a later run (or a raised limit)
    decides again. The audit trail and the error say what was refused."""
    await region.store.append_audit(
        region.scope,
        [
            AuditEvent(
                AuditAction.MASS_DELETE_BLOCKED,
                destination=v.destination,
                detail={"planned": v.planned, "held": v.held, "limitPercent": v.limit_percent},
            )
            for v in blocked
        ],
    )
    words = "; ".join(
        f"{v.planned} of {v.held} contacts of {v.destination} "
        f"({v.planned * 100 // v.held}%, limit {v.limit_percent}%)"
        for v in blocked
    )
    # The activity that runs this logs the refusal, once, with its type. The counts include
    # what earlier pages of the run deleted, which stays deleted: "nothing more".
    raise MassDeleteBlocked(
        f"this sync would delete {words}, counting what it deleted already; nothing more was "
        "deleted. If the "
        "sources really lost these contacts, raise spec.deletes.maxDeletePercent for one run"
    )
