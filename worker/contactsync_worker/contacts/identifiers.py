"""Every identity value a record carries, and those an erasure request names (pure).

Merging uses only the keys ``spec.identity`` lists; finding a person for an erasure, and
recognising a suppressed one, uses every key: an address the spec does not merge on still
names the person. Both sides normalize as :meth:`Contact.identity` does, so a request for
``Erika@Example.org`` or ``+49 (30) 1234-56`` meets the record that holds it.
"""

from __future__ import annotations

from contactsync_api.fields import IdentityKey
from contactsync_api.workflows import SubjectIds
from contactsync_worker.contacts.model import Contact, normalize_phone

EVERY_KEY = tuple(IdentityKey)


def carried(contact: Contact) -> tuple[str, ...]:
    """The record's identity values under every key (what minimization left it), its UID
    included where ``spec.identity`` does not merge on it."""
    values = contact.identity(EVERY_KEY)
    uid = (contact.carried_uid or "").strip()
    if uid and f"uid:{uid}" not in values:
        values = (*values, f"uid:{uid}")
    return values


def named(subject: SubjectIds) -> tuple[str, ...]:
    """The request's identity values, normalized like a record's; empty ones dropped."""
    values = [
        f"email:{subject.email.strip().lower()}" if subject.email else "",
        f"phone:{normalize_phone(subject.phone)}" if subject.phone else "",
        f"uid:{subject.uid.strip()}" if subject.uid else "",
    ]
    return tuple(v for v in values if v and not v.endswith(":"))


def kind(value: str) -> str:
    """The key of a normalized identity value: ``email:a@b`` → ``email``."""
    return str(IdentityKey(value.partition(":")[0]))
