"""Whether a contact may be written, under the ContactSync's consent policy (pure)."""

from __future__ import annotations

from collections.abc import Sequence

from contactsync_api.spec import ConsentMode, ConsentSpec
from contactsync_worker.contacts.model import Contact


def may_write(contact: Contact, policy: ConsentSpec) -> bool:
    """Required mode: the contact's recorded purposes cover every required purpose (any
    recorded consent when none are listed). A contact without a consent record is never
    written under Required."""
    if policy.mode is ConsentMode.NOT_REQUIRED:
        return True
    if not contact.consent:
        return False
    return {purpose.lower() for purpose in policy.purposes} <= contact.consent


def parse_purposes(values: Sequence[str] | str | None) -> frozenset[str] | None:
    """'directory, newsletter' or ['directory', 'newsletter'] → purposes, lowercased (a
    record's 'Directory' is the policy's 'directory'); None when absent."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    purposes = {p.strip().lower() for item in items for p in item.split(",") if p.strip()}
    return frozenset(purposes)
