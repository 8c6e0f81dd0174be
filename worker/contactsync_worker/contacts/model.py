"""The canonical contact: what every source produces and every destination consumes.

A Contact holds only the fields the ContactSync allows (minimization happens
inside the source adapter, before a Contact exists), plus what the pipeline
itself needs: the item's id in its source, its identity keys, and its consent.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from contactsync_api.fields import ContactField, IdentityKey
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed, as_typed, texts

# A field's value: one string, or several in order (emails, phones, urls, categories,
# addresses, additionalNames). Structured values are kept as the vCard text of the value
# (an address is "pobox;ext;street;locality;region;code;country"); a photo is a data: URI.
# Emails, phones, addresses and urls hold Typed values (contacts.typed): their types,
# preference and label travel with them.
FieldValue = str | tuple[str | Typed, ...]

_EXTENSION = re.compile(";ext=", re.IGNORECASE)  # a tel: URI's extension (RFC 3966)

MULTI_VALUED = frozenset(
    {
        ContactField.EMAILS,
        ContactField.PHONES,
        ContactField.URLS,
        ContactField.CATEGORIES,
        ContactField.ADDRESSES,
        ContactField.ADDITIONAL_NAMES,
    }
)


@dataclass(frozen=True)
class Contact:
    """One record of one source, minimized."""

    source: str  # the source's name in the spec
    item_id: str  # stable id within the source: vCard href/UID, LDAP DN, file row key
    fields: Mapping[ContactField, FieldValue]
    uid: str | None = None  # the record's own UID, when it has one (identity key "uid")
    # The record's UID whatever spec.identity says: never merged on nor written, only its
    # pseudonym is kept, so an erasure by uid finds the person (contacts.identifiers).
    carried_uid: str | None = None
    # The consent property's values as recorded, one per occurrence (contacts.consent reads
    # them under the spec's vocabulary); None: the record has no consent property.
    consent: tuple[str, ...] | None = None

    def identity(self, keys: tuple[IdentityKey, ...]) -> tuple[str, ...]:
        """Normalized identity values in the order of ``keys``, e.g. email:a@b or uid:x."""
        values: list[str] = []
        for key in keys:
            if key is IdentityKey.EMAIL:
                values += [
                    f"email:{e.strip().lower()}"
                    for e in texts(self.fields.get(ContactField.EMAILS))
                ]
            elif key is IdentityKey.UID and self.uid:
                values.append(f"uid:{self.uid.strip()}")
            elif key is IdentityKey.PHONE:
                values += [
                    f"phone:{normalize_phone(p)}"
                    for p in texts(self.fields.get(ContactField.PHONES))
                ]
        return tuple(dict.fromkeys(v for v in values if not v.endswith(":")))

    def content_hash(self) -> str:
        """Hash of what would be written: fields only, canonical order. Changes iff content
        does, a value's types, preference or label included.

        Computed once per contact (a page asks for it when it compares and again when it
        records): a Contact is not changed after it is made, ``replace`` makes a new one.
        """
        cached: str | None = self.__dict__.get("_content_hash")
        if cached is None:
            canonical = json.dumps(
                {str(k): canonical_value(k, v) for k, v in sorted(self.fields.items())},
                sort_keys=True,
                ensure_ascii=False,
                separators=(",", ":"),
            )
            cached = hashlib.sha256(canonical.encode()).hexdigest()
            object.__setattr__(self, "_content_hash", cached)  # not a field: eq ignores it
        return cached


@dataclass(frozen=True)
class Quarantined:
    """A record set aside as malformed: reported by source and id, never by content."""

    source: str
    item_id: str
    reason: str  # what is wrong, in words that contain no field values


@dataclass(frozen=True)
class FieldPolicy:
    """What an adapter may extract: the allowlist, plus where consent is recorded."""

    allowed: frozenset[ContactField]
    consent_property: str | None = None  # None: consent is not read (mode NotRequired)
    identity: tuple[IdentityKey, ...] = (IdentityKey.EMAIL, IdentityKey.UID)


@dataclass
class Page:
    """One page a source returns.

    ``complete`` is True on the last page of a run. For a snapshot source (LDAP, CSV,
    JSON Lines) the pages of a run together list every record it holds, so ids not seen
    were removed; a delta source (CardDAV) lists changes and removals itself.
    """

    contacts: list[Contact] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    cursor: str | None = None  # pass back to get the next page
    complete: bool = False
    snapshot: bool = True
    checkpoint: str | None = None  # sync token to commit once this page's writes are done
    # On the first page of a listing whose pages a source can address: the cursor of each
    # page after it, in order, so they may be worked at once (engine.page_runs).
    fanout: list[str] = field(default_factory=list)


def canonical_value(field: ContactField, value: FieldValue) -> object:
    """A field's value as JSON: typed values as objects (Typed.as_json), lists as lists."""
    if field in TYPED_FIELDS:
        return [typed.as_json() for typed in as_typed(value)]
    return list(texts(value)) if isinstance(value, tuple) else value


def normalize_phone(number: str) -> str:
    """Digits and a leading +, so '+49 (30) 1234-56' and '+4930123456' match. An extension
    (a tel: URI's ';ext=102') stays apart: two extensions of one switchboard are two phones."""
    number, *rest = _EXTENSION.split(number, maxsplit=1)
    digits = "".join(ch for ch in number if ch.isdigit())
    normalized = f"+{digits}" if number.strip().startswith("+") else digits
    extension = "".join(ch for ch in rest[0].partition(";")[0] if ch.isdigit()) if rest else ""
    return f"{normalized};ext={extension}" if extension else normalized
