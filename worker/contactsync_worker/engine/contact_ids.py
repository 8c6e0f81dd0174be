"""The contact id a record gets when it is seen for the first time."""

from __future__ import annotations

from contactsync_worker.contacts.model import Contact
from contactsync_worker.engine.region import RegionRuntime


def new_contact_id(region: RegionRuntime, contact: Contact) -> str:
    """A stable id for a contact seen for the first time: the same record always gets the
    same id, so a retried page creates nothing twice."""
    return "cs-" + region.pseudonyms.subject(f"{contact.source}\x00{contact.item_id}")[:32]
