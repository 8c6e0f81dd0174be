"""Records of a CSV or JSON Lines file, and how one becomes a Contact.

A format reader (``csv_records``, ``jsonl_records``) yields :class:`RawRecord`\\ s: where a
record starts and the values of its wanted keys, or the reason it cannot be used.
:class:`RecordMapper` turns the values into a Contact under the field policy. Both
happen again for the records of every page, so they are deterministic: the same bytes
give the same contact or the same reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from contactsync_api.fields import ContactField, IdentityKey
from contactsync_worker.contacts.model import (
    MULTI_VALUED,
    Contact,
    FieldPolicy,
    FieldValue,
    Quarantined,
)
from contactsync_worker.contacts.photo import InvalidPhoto, parse_data_uri

# A record (a JSON line, a CSV row with its quoted line breaks) longer than this is not
# read into memory: a page of records then stays small, whatever a file holds.
MAX_RECORD_BYTES = 1024 * 1024
ID_KEYS = ("id", "uid")
MULTI_KEYS = frozenset(str(f) for f in MULTI_VALUED)
SINGLE_KEYS = frozenset(str(f) for f in ContactField if f not in MULTI_VALUED)

Value = str | tuple[str, ...]

_UNESCAPED_SEMICOLON = re.compile(r"(?<!\\);")
_ADR_COMPONENTS = 7


class RecordError(ValueError):
    """A record cannot be used; the message names fields, never values."""


class Position(NamedTuple):
    """Where a record starts: the byte offset to read it from, and its first line."""

    offset: int
    line: int


@dataclass(frozen=True)
class RawRecord:
    """One record as a format reader found it."""

    position: Position
    values: Mapping[str, Value] | RecordError


class Layout(Protocol):
    """How one version of a file is read: where its records start, and its records."""

    @property
    def start(self) -> Position: ...

    def records(self, stream: io.BufferedReader, at: Position) -> Iterator[RawRecord]:
        """Records in file order from ``at``; ``stream`` is positioned at ``at.offset``."""
        ...


class RecordMapper:
    """Values of the keys the policy lets us read → a Contact of source ``source``."""

    def __init__(self, source: str, policy: FieldPolicy) -> None:
        self.source = source
        self._policy = policy

    def wanted(self) -> dict[str, str]:
        """Lower-cased key → canonical key, for every key the policy lets us read."""
        keys = [str(f) for f in self._policy.allowed] + list(ID_KEYS)
        if self._policy.consent_property:
            keys.append(self._policy.consent_property)
        return {key.lower(): key for key in keys}

    def mapped(self, record: RawRecord) -> Contact | Quarantined:
        """The record's contact, or its quarantine under ``line:<n>``."""
        if isinstance(record.values, RecordError):
            return self.quarantined(record, str(record.values))
        try:
            return self.contact(record.values)
        except RecordError as exc:
            return self.quarantined(record, str(exc))

    def quarantined(self, record: RawRecord, reason: str) -> Quarantined:
        return Quarantined(self.source, f"line:{record.position.line}", reason)

    def contact(self, values: Mapping[str, Value]) -> Contact:
        fields: dict[ContactField, FieldValue] = {}
        for field in sorted(self._policy.allowed):
            value = values.get(str(field))
            if value is not None:
                normalized = _normalize(field, value)
                if normalized:
                    fields[field] = normalized
        uid = _single(values.get("uid"), "uid")
        contact = Contact(
            source=self.source,
            item_id="",
            fields=fields,
            uid=uid if IdentityKey.UID in self._policy.identity else None,
            consent=self._consent(values),
        )
        given_id = _single(values.get("id"), "id")
        if "id" in values and not given_id:
            raise RecordError("id is empty")
        item_id = given_id or uid or self._derived_id(contact)
        return dataclasses.replace(contact, item_id=item_id)

    def _derived_id(self, contact: Contact) -> str:
        identity = contact.identity(self._policy.identity)
        if not identity:
            raise RecordError(
                "no id: the record has no id or uid, and no identity value to derive one from"
            )
        return "sha256:" + hashlib.sha256(identity[0].encode()).hexdigest()[:32]

    def _consent(self, values: Mapping[str, Value]) -> tuple[str, ...] | None:
        prop = self._policy.consent_property
        raw = values.get(prop) if prop else None
        if raw is None:
            return None
        return raw if isinstance(raw, tuple) else (raw,)


def _single(value: Value | None, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        raise RecordError(f"{key} must be a single value")
    return value.strip() or None


def _normalize(field: ContactField, value: Value) -> FieldValue | None:
    if field not in MULTI_VALUED:
        text = _single(value, str(field))
        if text and field is ContactField.PHOTO:
            try:
                parse_data_uri(text)
            except InvalidPhoto as exc:
                raise RecordError(str(exc)) from None
        return text
    values = value if isinstance(value, tuple) else (value,)
    cleaned = (v.strip() for v in values)
    if field is ContactField.ADDRESSES:
        cleaned = (_address(v) for v in cleaned if v)
    unique = tuple(dict.fromkeys(v for v in cleaned if v))
    return unique or None


def _address(text: str) -> str:
    """vCard ADR text; a label without ``;`` becomes the street component."""
    components = _UNESCAPED_SEMICOLON.split(text)
    if len(components) == 1:
        escaped = text.replace("\\", "\\\\").replace(",", "\\,")
        return f";;{escaped};;;;"
    if len(components) != _ADR_COMPONENTS:
        raise RecordError(
            "addresses: an address has 7 components separated by ';' "
            "(pobox;ext;street;locality;region;code;country), or none"
        )
    return text
