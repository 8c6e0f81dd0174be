"""Records of a CSV or JSON Lines file, and how one becomes a Contact.

A format reader (``csv_records``, ``jsonl_records``) yields :class:`RawRecord`\\ s: where a
record starts and the values of its wanted keys (those of typed fields already Typed, see
``typed_keys``), or the reason it cannot be used.
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
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed, united_values
from contactsync_worker.sources.typed_keys import TypedKey, parse_typed_key

# A record (a JSON line, a CSV row with its quoted line breaks) longer than this is not
# read into memory: a page of records then stays small, whatever a file holds.
MAX_RECORD_BYTES = 1024 * 1024
ID_KEYS = ("id", "uid")
MULTI_KEYS = frozenset(str(f) for f in MULTI_VALUED)
SINGLE_KEYS = frozenset(str(f) for f in ContactField if f not in MULTI_VALUED)

Value = str | tuple[str, ...]
TypedValues = Mapping[ContactField, tuple[Typed, ...]]

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
    """One record as a format reader found it: typed fields apart, as Typed values."""

    position: Position
    # A Contact: a format that reads its records into contacts itself (vCard, through the
    # same parser as CardDAV cards) hands them over whole.
    values: Mapping[str, Value] | RecordError | Contact
    typed: TypedValues = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class Keys:
    """The keys of a record the policy lets us read: plain ones (non-typed fields, id, uid,
    consent) by name, and every key of the allowed typed fields (``typed_keys``)."""

    plain: frozenset[str]
    typed: frozenset[ContactField]

    def match(self, name: str, *, ignore_case: bool) -> str | TypedKey | None:
        """The canonical plain key or the typed key ``name`` spells; None: not to be read."""
        if ignore_case:
            plain = next((k for k in self.plain if k.lower() == name.strip().lower()), None)
        else:
            plain = name if name in self.plain else None
        return plain or parse_typed_key(name, self.typed, ignore_case=ignore_case)


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

    def wanted(self) -> Keys:
        """Every key the policy lets us read."""
        keys = [str(f) for f in self._policy.allowed if f not in TYPED_FIELDS] + list(ID_KEYS)
        if self._policy.consent_property:
            keys.append(self._policy.consent_property)
        return Keys(frozenset(keys), self._policy.allowed & TYPED_FIELDS)

    def mapped(self, record: RawRecord) -> Contact | Quarantined:
        """The record's contact, or its quarantine under ``line:<n>``."""
        if isinstance(record.values, RecordError):
            return self.quarantined(record, str(record.values))
        if isinstance(record.values, Contact):
            return record.values
        try:
            return self.contact(record.values, record.typed)
        except RecordError as exc:
            return self.quarantined(record, str(exc))

    def quarantined(self, record: RawRecord, reason: str) -> Quarantined:
        return Quarantined(self.source, f"line:{record.position.line}", reason)

    def contact(self, values: Mapping[str, Value], typed: TypedValues | None = None) -> Contact:
        fields: dict[ContactField, FieldValue] = {}
        for field in sorted(self._policy.allowed):
            value = values.get(str(field))
            normalized: FieldValue | None = None
            if field in TYPED_FIELDS:
                normalized = _normalize_typed(field, (typed or {}).get(field, ()))
            elif value is not None:
                normalized = _normalize(field, value)
            if normalized:
                fields[field] = normalized
        uid = _single(values.get("uid"), "uid")
        contact = Contact(
            source=self.source,
            item_id="",
            fields=fields,
            uid=uid if IdentityKey.UID in self._policy.identity else None,
            carried_uid=uid,
            consent=self._consent(values),
        )
        given_id = _single(values.get("id"), "id")
        if "id" in values and not given_id:
            raise RecordError("id is empty")
        item_id = given_id or uid or self._derived_id(contact)
        return dataclasses.replace(contact, item_id=item_id)

    def _derived_id(self, contact: Contact) -> str:
        item_id = identity_id(contact, self._policy)
        if item_id is None:
            raise RecordError(
                "no id: the record has no id or uid, and no identity value to derive one from"
            )
        return item_id

    def _consent(self, values: Mapping[str, Value]) -> tuple[str, ...] | None:
        prop = self._policy.consent_property
        raw = values.get(prop) if prop else None
        if raw is None:
            return None
        return raw if isinstance(raw, tuple) else (raw,)


def identity_id(contact: Contact, policy: FieldPolicy) -> str | None:
    """An item id from the contact's first identity value (in ``policy.identity`` order):
    stable while that value is, whatever else the record holds. None: it has none."""
    identity = contact.identity(policy.identity)
    if not identity:
        return None
    return "sha256:" + hashlib.sha256(identity[0].encode()).hexdigest()[:32]


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
    unique = tuple(dict.fromkeys(v for v in (v.strip() for v in values) if v))
    return unique or None


def _normalize_typed(field: ContactField, values: tuple[Typed, ...]) -> tuple[Typed, ...] | None:
    cleaned = [_with_value(v, v.value.strip()) for v in values]
    if field is ContactField.ADDRESSES:
        cleaned = [_with_value(v, _address(v.value)) for v in cleaned if v.value]
    return united_values(v for v in cleaned if v.value) or None


def _with_value(typed: Typed, value: str) -> Typed:
    # Most values are clean already; copying a dataclass costs more than the parse.
    return typed if value == typed.value else dataclasses.replace(typed, value=value)


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
