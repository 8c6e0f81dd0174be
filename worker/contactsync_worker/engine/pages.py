"""One page of one source: fetch, skip the suppressed, consent, identify, merge, write,
remember, audit.

The sync token a page carries is committed only after the writes of that page, so a
crash between the two repeats the writes (idempotent) rather than losing changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from contactsync_api.fields import ContactField
from contactsync_api.workflows import SyncSummary
from contactsync_worker.audit import AuditAction, AuditEvent
from contactsync_worker.contacts.consent import judge
from contactsync_worker.contacts.model import Contact, Quarantined
from contactsync_worker.contacts.value_checks import (
    INVALID_VALUES,
    NO_IDENTITY,
    CheckedPage,
    check_page,
)
from contactsync_worker.engine import carried, removals, suppression, withdrawals
from contactsync_worker.engine.contact_ids import new_contact_id
from contactsync_worker.engine.region import RegionRuntime, SharedDeletions
from contactsync_worker.engine.writes import current_contributions, delete_everywhere, write_merged
from contactsync_worker.pseudonym import MemoPseudonymizer
from contactsync_worker.store import PENDING_HASH, ItemState, ItemWrite

log = logging.getLogger(__name__)
PENDING = PENDING_HASH  # the content hash of an item whose writes are not done yet
# How many existing contacts one record may join (keep one, fold the rest into it). The same
# person in two or three sources is common; a row matching more is a typo or an attack.
MAX_JOINED = 3


@dataclass(frozen=True)
class PageOutcome:
    summary: SyncSummary
    cursor: str | None
    complete: bool
    snapshot: bool
    fanout: tuple[str, ...] = ()  # the cursors of the rest of the listing (Page.fanout)
    checkpoint: str | None = None  # a page in a slice: the sync token, not committed


async def sync_page(
    region: RegionRuntime,
    run: str,
    source: str,
    cursor: str | None,
    deleted_before: int = 0,
    at: datetime | None = None,
    *,
    in_slice: bool = False,
) -> PageOutcome:
    """``deleted_before``: what the run deleted before this page, for the mass-delete guard;
    ``at``: the run's time, which consent is judged at (now when not given); ``in_slice``:
    other pages of the listing are worked at the same time (engine.page_runs), so the
    run's deletions are counted in the store and the sync token is handed back."""
    region = _memoized(region)
    if in_slice:
        region = replace(region, shared_deletions=SharedDeletions(run, deleted_before))
    store, scope = region.store, region.scope
    checkpoint = await store.get_checkpoint(scope, source) if cursor is None else None
    page = await region.source(source).fetch(cursor, checkpoint)
    # Every source's values are checked here, the same way, before anything is judged.
    checked = check_page(page.contacts, region.config.values, region.policy.identity)
    events = _quarantined(source, [*page.quarantined, *checked.quarantined])
    events += _dropped(source, checked)
    screened = await suppression.screen(region, source, checked.kept)
    events += screened.events

    at = at or datetime.now(UTC)
    consent = region.consent_of(source)
    judged = [(c, judge(c.consent, consent, at)) for c in screened.kept]
    allowed = [c for c, verdict in judged if verdict.allows]
    refused = [(c, verdict) for c, verdict in judged if not verdict.allows]
    states = await store.get_items(scope, source, [c.item_id for c in checked.kept])
    # Written before, and now carrying a suppressed value: it leaves like a removed record.
    suppressed = [c.item_id for c in screened.skipped if c.item_id in states]
    # Refused now but written before: out of every destination in this run, no grace.
    withdrawn = await withdrawals.remove_refused(
        region, source, refused, states, deleted_before, allowed
    )
    events += withdrawals.skipped(region, source, refused, states)

    changed, unchanged = await _split_changed(region, allowed, states)
    summary, set_aside, written = await _write_changed(
        region, run, source, changed, states, deleted_before + withdrawn.deleted
    )
    summary = summary.plus(withdrawn)
    events += _quarantined(source, set_aside)
    removed = [*page.removed, *suppressed]
    checkpoint = page.checkpoint if page.complete else None
    handed_back, checkpoint = (checkpoint, None) if in_slice else (None, checkpoint)
    if written or unchanged or removed or events or checkpoint is not None:
        # What the page did, remembered in one transaction once its writes are done: the
        # written items' hashes, what it saw unchanged or removed, its audit records, and
        # last the sync token that covers all of it.
        async with store.atomic() as tx:
            await tx.upsert_items(scope, source, written, run)
            await tx.mark_seen(scope, source, [c.item_id for c in unchanged], run)
            await tx.mark_removed(scope, source, removed)
            await tx.append_audit(scope, events)
            if checkpoint is not None:
                await tx.commit_checkpoint(scope, source, checkpoint)
    summary = SyncSummary(
        created=summary.created,
        updated=summary.updated,
        deleted=summary.deleted,
        unchanged=summary.unchanged + len(unchanged),
        skipped_no_consent=len(refused),
        skipped_suppressed=len(screened.skipped),
        quarantined=len(page.quarantined) + len(checked.quarantined) + len(set_aside),
        pages=1,
        dropped_emails=checked.dropped_in(ContactField.EMAILS),
        dropped_phones=checked.dropped_in(ContactField.PHONES),
        quarantined_invalid_values=checked.quarantined_for[INVALID_VALUES],
        quarantined_no_identity=checked.quarantined_for[NO_IDENTITY],
    )
    return PageOutcome(
        summary, page.cursor, page.complete, page.snapshot, tuple(page.fanout), handed_back
    )


def _memoized(region: RegionRuntime) -> RegionRuntime:
    """The region with pseudonym keys that remember, for this page only, what they computed."""
    previous = region.previous_pseudonyms
    return replace(
        region,
        pseudonyms=MemoPseudonymizer.of(region.pseudonyms),
        previous_pseudonyms=MemoPseudonymizer.of(previous) if previous else None,
    )


def _quarantined(source: str, items: list[Quarantined]) -> list[AuditEvent]:
    """Log each record set aside and return its audit events: by id and reason, never content."""
    for item in items:
        log.warning("quarantined item %s of source %s: %s", item.item_id, source, item.reason)
    return [
        AuditEvent(
            AuditAction.QUARANTINED, source=source, detail={"item": q.item_id, "reason": q.reason}
        )
        for q in items
    ]


def _dropped(source: str, checked: CheckedPage) -> list[AuditEvent]:
    """One audit event per record whose invalid values were dropped: how many of each
    field, never the values."""
    for item, counts in checked.dropped:
        said = ", ".join(f"{n} of {name}" for name, n in counts.items())
        log.info("dropped invalid values of item %s of source %s: %s", item, source, said)
    return [
        AuditEvent(
            AuditAction.VALUES_DROPPED,
            source=source,
            detail={"item": item, **{str(name): n for name, n in counts.items()}},
        )
        for item, counts in checked.dropped
    ]


async def _split_changed(
    region: RegionRuntime, contacts: list[Contact], states: dict[str, ItemState]
) -> tuple[list[Contact], list[Contact]]:
    """Unchanged: same content as last written, not flagged removed, and present in every
    destination it feeds (a newly added destination still gets it)."""
    candidates = [
        c
        for c in contacts
        if (s := states.get(c.item_id)) is not None
        and s.removed_at is None
        and s.content_hash == c.content_hash()
    ]
    missing: set[str] = set()
    for destination in region.config.destinations:
        if candidates and candidates[0].source in region.feeds(destination):
            ids = [states[c.item_id].contact_id for c in candidates]
            written = await region.store.written_hashes(region.scope, destination.name, ids)
            missing |= {i for i in ids if i not in written}
    unchanged = [c for c in candidates if states[c.item_id].contact_id not in missing]
    kept = {c.item_id for c in unchanged}
    return [c for c in contacts if c.item_id not in kept], unchanged


async def _write_changed(
    region: RegionRuntime,
    run: str,
    source: str,
    changed: list[Contact],
    states: dict[str, ItemState],
    deleted_before: int,
) -> tuple[SyncSummary, list[Quarantined], list[ItemWrite]]:
    """Identify, merge and write the changed records; return what the store is to remember
    of them once the page is done. A record that would join more than MAX_JOINED contacts
    is set aside (returned), and the contacts merges fold away count against the
    mass-delete guard like any other deletion: one row listing other people's emails must
    not delete them."""
    if not changed:
        return SyncSummary(), [], []
    store, scope = region.store, region.scope
    keys = region.policy.identity
    identities = {c.item_id: region.pseudonyms.identities(c.identity(keys)) for c in changed}
    try:
        async with store.atomic() as tx:
            # Pages working one listing at once (on any worker) take turns here: a page
            # sees every binding an earlier one made, so the same person in two pages is
            # one contact, and the guard counts every fold.
            await tx.lock_identities(scope)
            bound = await tx.lookup_identities(scope, [p for ps in identities.values() for p in ps])
            plan = _assign(region, source, changed, states, identities, bound)
            # Before anything changes: folding contacts deletes them downstream.
            blocked = await removals.blocked(
                replace(region, store=tx), sorted(plan.merged_away), deleted_before
            )
            if blocked:
                raise _GuardTripped(blocked)
            changed = [c for c in changed if c.item_id in plan.assignments]
            for folded, into in plan.folds:
                await tx.rebind_contacts(scope, folded, into)
            await tx.bind_identities(
                scope,
                {
                    p: plan.assignments[i]
                    for i, ps in identities.items()
                    if i in plan.assignments
                    for p in ps
                },
            )
            # The items are recorded before the writes (merging reads contributors from the
            # store), but with a hash no content has: a worker that dies before the writes
            # are done leaves them looking changed, so the retried page writes them instead
            # of skipping them.
            pending = [ItemWrite(c.item_id, plan.assignments[c.item_id], PENDING) for c in changed]
            await tx.upsert_items(scope, source, pending, run)
            await tx.index_carried(scope, source, carried.index(region, changed))
    except _GuardTripped as tripped:
        # Refused after the transaction is undone, so the refusal's audit record stays.
        await removals.refuse(region, tripped.verdicts)
    assignments, merged_away, affected = plan.assignments, plan.merged_away, plan.affected
    set_aside = plan.set_aside
    live = affected - merged_away
    contributions = await current_contributions(region, sorted(live), changed)
    orphaned = {i for i, contacts in contributions.items() if not contacts}
    if orphaned:
        await removals.check_guard(region, sorted(orphaned), deleted_before + len(merged_away))
    summary = await write_merged(region, {i: c for i, c in contributions.items() if c})
    deleted = await delete_everywhere(region, sorted(merged_away | orphaned))
    written = SyncSummary(
        created=summary.created,
        updated=summary.updated,
        unchanged=summary.unchanged,
        deleted=deleted,
    )
    done = [ItemWrite(c.item_id, assignments[c.item_id], c.content_hash()) for c in changed]
    return written, set_aside, done


class _GuardTripped(Exception):
    def __init__(self, verdicts: list[removals.GuardVerdict]) -> None:
        super().__init__("the mass-delete guard refuses the folds of a page")
        self.verdicts = verdicts


@dataclass
class _Assignment:
    """Which contact each changed record belongs to, and what that changes."""

    assignments: dict[str, str] = field(default_factory=dict)  # item id -> contact id
    merged_away: set[str] = field(default_factory=set)  # contacts folded into others
    affected: set[str] = field(default_factory=set)  # contacts whose records change
    folds: list[tuple[list[str], str]] = field(default_factory=list)
    set_aside: list[Quarantined] = field(default_factory=list)


def _assign(
    region: RegionRuntime,
    source: str,
    changed: list[Contact],
    states: dict[str, ItemState],
    identities: dict[str, list[str]],
    bound: dict[str, str],
) -> _Assignment:
    """Each record joins the contacts its identity values are bound to (at most MAX_JOINED;
    the first kept, the others folded in), or starts a new one."""
    plan = _Assignment()
    bound = dict(bound)
    for contact in changed:
        state = states.get(contact.item_id)
        known = sorted({bound[p] for p in identities[contact.item_id] if p in bound})
        if state is not None:
            known = sorted({*known, state.contact_id})
        if len(known) > MAX_JOINED:
            plan.set_aside.append(
                Quarantined(
                    source,
                    contact.item_id,
                    f"its identity values match {len(known)} different contacts; a record may "
                    f"join at most {MAX_JOINED}",
                )
            )
            continue
        contact_id = known[0] if known else new_contact_id(region, contact)
        if len(known) > 1:
            # This record joins contacts that were separate: keep one, fold the others in.
            plan.folds.append((known[1:], contact_id))
            plan.merged_away |= set(known[1:])
        if state is not None and state.contact_id != contact_id:
            plan.affected.add(state.contact_id)
        plan.assignments[contact.item_id] = contact_id
        bound |= dict.fromkeys(identities[contact.item_id], contact_id)
        plan.affected.add(contact_id)
    return plan
