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
import functools
import hashlib
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from contactsync_api.fields import ContactField, IdentityKey
from contactsync_api.mapping_presets import FILE_DEFAULT
from contactsync_api.mapping_targets import MappedField, SourceMapping, Target
from contactsync_worker.contacts.model import (
    MULTI_VALUED,
    Contact,
    FieldPolicy,
    FieldValue,
    Quarantined,
)
from contactsync_worker.contacts.photo import InvalidPhoto, parse_data_uri
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed, united_values
from contactsync_worker.sources.mapped_values import MappedRecord
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
    consent) by name, and every key of the allowed typed fields (``typed_keys``); and the
    source's mapping, whose targets name other keys (``mapped_values``)."""

    plain: frozenset[str]
    typed: frozenset[ContactField]
    mapping: SourceMapping = FILE_DEFAULT
    allowed: frozenset[ContactField] = frozenset()

    def match(self, name: str, *, ignore_case: bool) -> str | TypedKey | None:
        """The canonical plain key or the typed key ``name`` spells; None: not to be read.
        Without canonical names (a preset), only id, uid and the consent key are."""
        if self.mapped(name, ignore_case=ignore_case):
            return None  # the mapping says what it feeds
        plain_keys = self.plain if self.mapping.canonical else self.plain - FIELD_KEYS
        if ignore_case:
            plain = next((k for k in plain_keys if k.lower() == name.strip().lower()), None)
        else:
            plain = name if name in plain_keys else None
        if plain or not self.mapping.canonical:
            return plain
        return parse_typed_key(name, self.typed, ignore_case=ignore_case)

    def mapped(self, name: str, *, ignore_case: bool) -> bool:
        """Whether a target of the mapping reads ``name`` (or reads types from it)."""
        return _folded(name, ignore_case) in self.mapped_names(ignore_case)

    def mapped_names(self, ignore_case: bool) -> frozenset[str]:
        return _mapped_names(self.mapping, ignore_case)

    def targets(self) -> tuple[Target, ...]:
        """The targets worth reading: of allowed fields, id, uid, and the name parts a
        full name is made of."""
        return _read_targets(self.mapping, self.allowed)

    def feeds(self, target: Target) -> bool:
        """Whether ``target`` gives an allowed field (a full name from its parts included)."""
        field = target.field.contact_field
        return (field is not None and field in self.allowed) or (
            ContactField.FULL_NAME in self.allowed
            and target.field
            in (MappedField.GIVEN_NAME, MappedField.ADDITIONAL_NAMES, MappedField.FAMILY_NAME)
        )


FIELD_KEYS = MULTI_KEYS | SINGLE_KEYS


def _folded(name: str, ignore_case: bool) -> str:
    return name.strip().lower() if ignore_case else name


@functools.cache
def _mapped_names(mapping: SourceMapping, ignore_case: bool) -> frozenset[str]:
    return frozenset(_folded(n, ignore_case) for n in mapping.names())


@functools.cache
def _read_targets(mapping: SourceMapping, allowed: frozenset[ContactField]) -> tuple[Target, ...]:
    wanted = set(allowed)
    if ContactField.FULL_NAME in allowed:
        wanted |= {ContactField.GIVEN_NAME, ContactField.ADDITIONAL_NAMES}
        wanted.add(ContactField.FAMILY_NAME)
    return tuple(
        t
        for t in mapping.targets
        if t.field.contact_field is None or t.field.contact_field in wanted
    )


def add_mapped(
    values: dict[str, Value], typed: dict[ContactField, list[Typed]], record: MappedRecord
) -> None:
    """Add what a mapping read to a record's values; a key read by name as well keeps
    the mapping's value."""
    for name, texts in record.texts.items():
        field = name.contact_field
        if field is not None and field in MULTI_VALUED:
            values[str(name)] = tuple(texts)
        elif texts:
            values[str(name)] = texts[0]
    for field, items in record.typed.items():
        typed.setdefault(field, []).extend(items)


class Layout(Protocol):
    """How one version of a file is read: where its records start, and its records."""

    @property
    def start(self) -> Position: ...

    def records(self, stream: io.BufferedReader, at: Position) -> Iterator[RawRecord]:
        """Records in file order from ``at``; ``stream`` is positioned at ``at.offset``."""
        ...


class RecordMapper:
    """Values of the keys the policy lets us read → a Contact of source ``source``."""

    def __init__(
        self, source: str, policy: FieldPolicy, mapping: SourceMapping = FILE_DEFAULT
    ) -> None:
        self.source = source
        self._policy = policy
        self._mapping = mapping

    def wanted(self) -> Keys:
        """Every key the policy lets us read, and the mapping that names more."""
        keys = [str(f) for f in self._policy.allowed if f not in TYPED_FIELDS] + list(ID_KEYS)
        if self._policy.consent_property:
            keys.append(self._policy.consent_property)
        allowed = frozenset(self._policy.allowed)
        return Keys(frozenset(keys), allowed & TYPED_FIELDS, self._mapping, allowed)

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
