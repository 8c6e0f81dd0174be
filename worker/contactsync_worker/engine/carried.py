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


def index(region: RegionRuntime, contacts: Iterable[Contact]) -> dict[str, dict[str, str]]:
    """item_id → what each record carries, for ``StateStore.index_carried``."""
    return {c.item_id: pseudonyms_of(region.pseudonyms, c) for c in contacts}
