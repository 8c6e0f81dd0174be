"""Erasure of one data subject, purge of everything a ContactSync wrote, and retention."""

from __future__ import annotations

from contactsync_api.durations import to_timedelta
from contactsync_api.fields import IdentityKey
from contactsync_api.workflows import ErasureResult, PurgeResult, RetentionResult, SubjectIds
from contactsync_worker.audit import AuditAction, AuditEvent
from contactsync_worker.contacts import identifiers
from contactsync_worker.engine import suppression
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.engine.removals import apply_removals
from contactsync_worker.engine.writes import delete_everywhere

BATCH = 500


async def erase(region: RegionRuntime, subject: SubjectIds, erasure: str) -> ErasureResult:
    """Suppress the person in later syncs, then remove them everywhere this region wrote
    them, with every state row about them. ``erasure`` is the request's id.

    Found by any identity value the request names, whatever ``spec.identity`` merges on.
    The audit records name the subject by pseudonym only, so the chain stays whole and
    says that an erasure happened without saying of whom."""
    values = identifiers.named(subject)
    pseudonyms = region.pseudonyms.identities(values)
    found = await region.store.find_subject(region.scope, pseudonyms)
    # Suppressed first, so a sync running meanwhile stops writing them before they go.
    entries = dict.fromkeys(found.uids, str(IdentityKey.UID))
    entries |= {p: identifiers.kind(v) for v, p in zip(values, pseudonyms, strict=True)}
    suppressed = await suppression.suppress(region, entries, erasure) if entries else 0
    if found.empty:
        await region.store.append_audit(
            region.scope, [AuditEvent(AuditAction.ERASED, detail={"found": False})]
        )
        return ErasureResult(identifiers_suppressed=suppressed)
    deleted = await delete_everywhere(region, found.contact_ids)
    await region.store.erase_subject(region.scope, pseudonyms)
    events = [
        AuditEvent(AuditAction.ERASED, region.pseudonyms.subject(i), detail={"found": True})
        for i in found.contact_ids
    ]
    await region.store.append_audit(region.scope, events)
    return ErasureResult(
        contacts_erased=len(found.contact_ids),
        destination_deletes=deleted,
        identifiers_suppressed=suppressed,
    )


async def purge(region: RegionRuntime) -> PurgeResult:
    """Delete every contact this ContactSync wrote in the region (deletionPolicy: Purge)."""
    total = 0
    for destination in region.config.destinations:
        while ids := await region.store.written_ids(region.scope, destination.name, limit=BATCH):
            total += await delete_everywhere(region, ids)
    # Nothing of this ContactSync's syncs is left to inherit: one created again under the
    # same name reads its sources whole and writes everything again.
    await region.store.forget_sync_state(region.scope)
    return PurgeResult(destination_deletes=total)


async def retention(region: RegionRuntime) -> RetentionResult:
    """Removals past their grace period, and audit records past their age."""
    removed = await apply_removals(region, None, ())
    purged = await region.store.purge_audit(
        region.scope, to_timedelta(region.config.retention.audit_log)
    )
    return RetentionResult(contacts_deleted=removed.deleted, audit_records_purged=purged.purged)
