"""Records whose consent no longer allows them leave every destination in the run that
reads them so.

The removedContacts grace period is for records gone from a source, which may come back;
a person who withdrew consent said no, and an expired grant or a record without consent is
no basis either, so the record is taken out of its contact at once. The contact is
rewritten from the other sources that still provide it (each with its own consent), or
deleted downstream whether or not source deletions propagate (consent is not a deletion
policy), under the mass-delete guard: a consent column renamed by mistake must not empty
a destination. The audit names the contact by pseudonym and says why.
"""

from __future__ import annotations

from collections.abc import Sequence

from contactsync_api.workflows import SyncSummary
from contactsync_worker.audit import AuditAction, AuditEvent
from contactsync_worker.contacts.consent import ConsentVerdict, gravest
from contactsync_worker.contacts.model import Contact
from contactsync_worker.engine import removals
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.store import ItemState

Refused = tuple[Contact, ConsentVerdict]


async def remove_refused(
    region: RegionRuntime,
    source: str,
    refused: Sequence[Refused],
    states: dict[str, ItemState],
    deleted_before: int = 0,
    fresh: Sequence[Contact] = (),
) -> SyncSummary:
    """Take the refused records written before out of their contacts, now. ``fresh``: the
    page's records that may be written, used as they are when a contact is rewritten."""
    known = [(states[c.item_id], verdict) for c, verdict in refused if c.item_id in states]
    if not known:
        return SyncSummary()
    items = [state for state, _ in known]
    await region.store.mark_removed(region.scope, source, [i.item_id for i in items])
    verdicts: dict[str, list[ConsentVerdict]] = {}
    for state, verdict in known:
        verdicts.setdefault(state.contact_id, []).append(verdict)
    reasons = {i: f"consent_{gravest(v)}" for i, v in verdicts.items()}
    return await removals.settle(
        region, items, deleted_before, delete=True, fresh=fresh, reasons=reasons
    )


def skipped(
    region: RegionRuntime, source: str, refused: Sequence[Refused], states: dict[str, ItemState]
) -> list[AuditEvent]:
    """One audit record per refused record: why, and whether it had been written."""
    events = []
    for contact, verdict in refused:
        state = states.get(contact.item_id)
        events.append(
            AuditEvent(
                AuditAction.SKIPPED_NO_CONSENT,
                region.pseudonyms.subject(state.contact_id) if state else None,
                source=source,
                detail={"consent": str(verdict), "written": state is not None},
            )
        )
    return events
