"""A record's values through a source's mapping (pure): what each target reads, as fields.

A reader gives ``read(name)``: the texts a column, key or attribute holds in one record
(a CSV cell, a JSON string or list of strings, an LDAP attribute's values); ``[]`` when
it is absent or empty. :func:`mapped_values` applies the targets:

- a single-valued field takes the first text of the first target that has one;
- a multi-valued field takes every text of every target, in order;
- a typed field's values get the target's types, and those its type column spells
  (:func:`types_from_text`);
- address parts (``component``) with the same types and type columns form one address;
- id and uid take the first text.

``fullName``, when allowed and no target gave it, is the given, additional and family
names joined: exports of Google and Outlook keep a person's name in its parts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from contactsync_api.fields import ContactField
from contactsync_api.mapping_targets import AddressComponent, MappedField, Target
from contactsync_worker.contacts.model import MULTI_VALUED
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed

Read = Callable[[str], Sequence[str]]
_NAME_PARTS = (MappedField.GIVEN_NAME, MappedField.ADDITIONAL_NAMES, MappedField.FAMILY_NAME)
# Words exports use for a value's kind, as vCard types ("Mobile" → cell). "Other" and
# "Main" say nothing a type would.
_TYPE_WORDS = {
    "mobile": ("cell",),
    "cell": ("cell",),
    "cellular": ("cell",),
    "home": ("home",),
    "personal": ("home",),
    "work": ("work",),
    "business": ("work",),
    "office": ("work",),
    "fax": ("fax",),
    "pager": ("pager",),
    "voice": ("voice",),
    "phone": ("voice",),
    "car": ("car",),
    "video": ("video",),
    "text": ("text",),
    "other": (),
    "main": (),
}
PREFERRED_MARK = "*"


@dataclass(frozen=True)
class TypeText:
    """What a type column's text says of a value."""

    types: tuple[str, ...] = ()
    preferred: bool = False
    label: str | None = None


def types_from_text(text: str) -> TypeText:
    """ "* Work" → work, preferred; "Home Fax" → home, fax; words that are no known type
    ("Assistant") → the text as the value's label."""
    text = text.strip()
    preferred = text.startswith(PREFERRED_MARK)
    text = text.removeprefix(PREFERRED_MARK).strip()
    words = text.lower().replace("-", " ").replace("_", " ").split()
    if not all(word in _TYPE_WORDS for word in words):
        return TypeText((), preferred, text or None)
    types = tuple(sorted({t for word in words for t in _TYPE_WORDS[word]}))
    return TypeText(types, preferred)


@dataclass
class MappedRecord:
    """A record's texts by field (and id, uid): single-valued ones have one text."""

    texts: dict[MappedField, list[str]] = field(default_factory=dict)
    typed: dict[ContactField, list[Typed]] = field(default_factory=dict)

    def first(self, name: MappedField) -> str | None:
        values = self.texts.get(name)
        return values[0] if values else None

    @property
    def empty(self) -> bool:
        return not any(self.texts.values()) and not any(self.typed.values())


def mapped_values(
    targets: Iterable[Target],
    read: Read,
    allowed: frozenset[ContactField],
    separator: str | None = None,
) -> MappedRecord:
    """The values ``targets`` read from one record, for the ``allowed`` fields, id and uid.

    ``separator`` splits a text of a multi-valued field in several (a CSV cell); an
    address, whose vCard text holds ';', is split by lines instead unless the separator
    is another."""
    record = MappedRecord()
    addresses: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[AddressComponent, list[str]]] = {}
    parts: dict[MappedField, str] = {}
    for target in targets:
        contact_field = target.field.contact_field
        if contact_field is not None and contact_field not in allowed:
            if target.field in _NAME_PARTS and ContactField.FULL_NAME in allowed:
                part = _first_text(read(target.name))
                if part:
                    parts.setdefault(target.field, part)
            continue
        texts = _texts(read(target.name), target, separator)
        if target.field in _NAME_PARTS and texts:
            parts.setdefault(target.field, texts[0])
        if target.component is not None:
            group = addresses.setdefault((target.types, target.type_from), {})
            group.setdefault(target.component, []).extend(texts)
        elif contact_field in TYPED_FIELDS:
            kind = _type_text(target, read)
            record.typed.setdefault(contact_field, []).extend(
                _typed(text, target.types, kind) for text in texts
            )
        elif contact_field is None or contact_field not in MULTI_VALUED:
            if texts and not record.texts.get(target.field):
                record.texts[target.field] = texts[:1]
        else:
            record.texts.setdefault(target.field, []).extend(texts)
    for (types, type_from), components in addresses.items():
        if any(components.values()):
            kind = _type_text(Target("", MappedField.ADDRESSES, types, type_from), read)
            adr = _adr(components)
            record.typed.setdefault(ContactField.ADDRESSES, []).append(_typed(adr, types, kind))
    if ContactField.FULL_NAME in allowed and not record.texts.get(MappedField.FULL_NAME):
        name = " ".join(p for p in (parts.get(f, "").strip() for f in _NAME_PARTS) if p)
        if name:
            record.texts[MappedField.FULL_NAME] = [name]
    return record


def _texts(raw: Sequence[str], target: Target, separator: str | None) -> list[str]:
    contact_field = target.field.contact_field
    if separator is not None and target.component is None and contact_field in MULTI_VALUED:
        if contact_field is ContactField.ADDRESSES:
            lines = [line for text in raw for line in text.splitlines()]
            raw = lines if separator == ";" else [p for t in lines for p in t.split(separator)]
        else:
            raw = [part for text in raw for part in text.split(separator)]
    return [t for t in (v.strip() for v in raw) if t]


def _first_text(texts: Sequence[str]) -> str | None:
    return next((t.strip() for t in texts if t.strip()), None)


def _type_text(target: Target, read: Read) -> TypeText:
    for name in target.type_from:
        text = _first_text(read(name))
        if text:
            return types_from_text(text)
    return TypeText()


def _typed(text: str, types: tuple[str, ...], kind: TypeText) -> Typed:
    all_types = (*types, *kind.types, *(("pref",) if kind.preferred else ()))
    return Typed(text, all_types, label=kind.label)


def _adr(components: dict[AddressComponent, list[str]]) -> str:
    """vCard ADR text of an address given in parts; several texts of one part (street
    lines) are its lines."""
    return ";".join(_escape("\n".join(components.get(c, []))) for c in AddressComponent)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")
