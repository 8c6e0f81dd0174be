"""Every identity value a record carries, pseudonymized with its kind: what an erasure finds
a person by, whatever ``spec.identity`` merges on."""

from __future__ import annotations

from collections.abc import Iterable

from contactsync_worker.contacts import identifiers
from contactsync_worker.contacts.model import Contact
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.pseudonym import Pseudonymizer


def pseudonyms_of(key: Pseudonymizer, contact: Contact) -> dict[str, str]:
    """pseudonym → kind (email, phone, uid) of each identity value the record carries."""
    return {key.identity(value): identifiers.kind(value) for value in identifiers.carried(contact)}


async def index(region: RegionRuntime, source: str, contacts: Iterable[Contact]) -> None:
    """Remember what the written records carry, replacing what they carried before."""
    await region.store.index_carried(
        region.scope, source, {c.item_id: pseudonyms_of(region.pseudonyms, c) for c in contacts}
    )
