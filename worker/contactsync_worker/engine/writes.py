"""Writing merged contacts to destinations, and deleting them: shared by sync, removals,
erasure and purge. Only counts and pseudonymous subjects leave this module."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping

from contactsync_api.workflows import SyncSummary
from contactsync_worker.audit import AuditAction, AuditEvent
from contactsync_worker.contacts.merge import merge_fields, merged_uid
from contactsync_worker.contacts.model import Contact
from contactsync_worker.destinations import Record
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.store import ItemState


async def current_contributions(
    region: RegionRuntime, contact_ids: Collection[str], fresh: Iterable[Contact]
) -> dict[str, list[Contact]]:
    """contact_id → the live source records merged into it, as the sources hold them now.

    Records of this page are used as they are; the others are read again by id from their
    sources (the store keeps no content to merge from).
    """
    by_key = {(c.source, c.item_id): c for c in fresh}
    stored = await region.store.contributors(region.scope, contact_ids)
    missing: dict[str, list[str]] = defaultdict(list)
    for items in stored.values():
        for item in items:
            if item.removed_at is None and (item.source, item.item_id) not in by_key:
                missing[item.source].append(item.item_id)
    for source, item_ids in missing.items():
        for contact in await region.source(source).fetch_items(item_ids):
            by_key[(contact.source, contact.item_id)] = contact
    result: dict[str, list[Contact]] = {}
    for contact_id in contact_ids:
        merged: list[ItemState] = stored.get(contact_id, [])
        result[contact_id] = [
            by_key[(i.source, i.item_id)]
            for i in merged
            if i.removed_at is None and (i.source, i.item_id) in by_key
        ]
    return result


async def write_merged(
    region: RegionRuntime,
    contributions: Mapping[str, list[Contact]],
    reasons: Mapping[str, str] | None = None,
) -> SyncSummary:
    """Upsert each contact's merged record into every destination fed by its sources.

    A destination gets the merge of only the sources it receives. Records whose hash equals
    what was last written there are not sent at all. ``reasons``: contact_id → why it is
    rewritten, for the audit (none: its sources changed).
    """
    created = updated = unchanged = 0
    fields = list(region.config.fields)
    for destination in region.config.destinations:
        feeds = set(region.feeds(destination))
        records: dict[str, Record] = {}
        hashes: dict[str, str] = {}
        for contact_id, contacts in contributions.items():
            fed = [c for c in contacts if c.source in feeds]
            if not fed:
                continue
            record = Record(
                contact_id,
                merge_fields(fed, region.source_order, fields),
                merged_uid(fed, region.source_order),
            )
            records[contact_id] = record
            hashes[contact_id] = Contact("", contact_id, record.fields).content_hash()
        if not records:
            continue
        written = await region.store.written_hashes(region.scope, destination.name, list(records))
        changed = [records[i] for i in records if written.get(i) != hashes[i]]
        unchanged += len(records) - len(changed)
        if not changed:
            continue
        result = await region.destination(destination.name).upsert(changed)
        created += result.created
        updated += result.updated
        unchanged += result.unchanged
        batch = [
            AuditEvent(
                AuditAction.UPDATED if record.contact_id in written else AuditAction.CREATED,
                region.pseudonyms.subject(record.contact_id),
                destination=destination.name,
                detail=_why(reasons, record.contact_id),
            )
            for record in changed
        ]
        batch += [
            AuditEvent(
                "unsupported_field",
                destination=destination.name,
                detail={"field": field, "contacts": count},
            )
            for field, count in result.unsupported_fields.items()
        ]
        # One transaction: a worker killed before it rewrites the batch (idempotently) on
        # retry and audits it then; killed after, the retry finds it written and audited.
        await region.store.record_written_audited(
            region.scope,
            destination.name,
            {r.contact_id: hashes[r.contact_id] for r in changed},
            batch,
        )
    return SyncSummary(created=created, updated=updated, unchanged=unchanged)


async def delete_everywhere(
    region: RegionRuntime,
    contact_ids: Collection[str],
    reasons: Mapping[str, str] | None = None,
) -> int:
    """Delete contacts from every destination that holds them, audit, and forget them there.
    ``reasons``: contact_id → why it is deleted, for the audit."""
    deleted = 0
    for destination in region.config.destinations:
        held = await region.store.written_hashes(region.scope, destination.name, contact_ids)
        if not held:
            continue
        result = await region.destination(destination.name).delete(sorted(held))
        deleted += result.deleted
        events = [
            AuditEvent(
                AuditAction.DELETED,
                region.pseudonyms.subject(i),
                destination=destination.name,
                detail=_why(reasons, i),
            )
            for i in sorted(held)
        ]
        await region.store.forget_written_audited(
            region.scope, destination.name, list(held), events
        )
    return deleted


def _why(reasons: Mapping[str, str] | None, contact_id: str) -> dict[str, str]:
    reason = (reasons or {}).get(contact_id)
    return {"reason": reason} if reason else {}
