"""Typed values in CSV columns and JSON Lines keys: which keys a record may use, and how
their values become Typed values.

A typed field (emails, phones, addresses, urls) is given

- under its own name: values without types (``phones``);
- under ``<field>.<type>[.<type>...]``: every value there has those types, and the type
  ``pref`` makes it preferred (``phones.cell``, ``emails.work.pref``);
- in JSON Lines, also as objects ``{"value": "...", "types": ["cell"], "pref": 1,
  "label": "..."}`` (only ``value`` is required), alone or in a list with plain strings;
  a typed key's types are added to an object's own.

Keys are matched as the plain ones are: ignoring case in a CSV header, exactly in JSON
(the types after the field's name in any case). A key whose types are not words of
letters, digits and '-' is not a typed key, so it is never read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contactsync_api.fields import ContactField
from contactsync_worker.contacts.typed import TYPED_FIELDS, InvalidTyping, Typed, is_type_token

# The keys of a typed value's JSON object: the decoder keeps them in nested objects.
OBJECT_KEYS = frozenset({"value", "types", "pref", "label"})
TYPED_NAMES: Mapping[str, ContactField] = {str(f): f for f in TYPED_FIELDS}


@dataclass(frozen=True)
class TypedKey:
    """A key that feeds a typed field, and the types it gives every value under it."""

    field: ContactField
    types: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The canonical spelling: ``phones.cell``; the field's name for a plain key."""
        return ".".join([str(self.field), *self.types])


def parse_typed_key(
    name: str, allowed: frozenset[ContactField], *, ignore_case: bool
) -> TypedKey | None:
    """The typed key ``name`` spells, when it names an allowed typed field; else None."""
    base, dot, suffix = name.strip().partition(".")
    match = {f.lower(): f for f in TYPED_NAMES} if ignore_case else dict(TYPED_NAMES.items())
    canonical = match.get(base.lower() if ignore_case else base)
    if canonical is None or TYPED_NAMES[canonical] not in allowed:
        return None
    tokens = tuple(t.lower() for t in suffix.split(".")) if dot else ()
    if not all(is_type_token(t) for t in tokens):
        return None
    return TypedKey(TYPED_NAMES[canonical], tokens)


def typed_from_json(key: TypedKey, value: object) -> tuple[Typed, ...]:
    """A typed key's JSON value: a string, an object, or a list of them. Raises
    InvalidTyping with a message that names the key, never a value."""
    items = value if isinstance(value, list) else [value]
    typed: list[Typed] = []
    for item in items:
        if isinstance(item, str):
            typed.append(Typed(item, key.types))
        elif isinstance(item, dict):
            typed.append(_typed_object(key, item))
        else:
            raise InvalidTyping(
                f'{key.name} must be a string, an object with a "value", or a list of them'
            )
    return tuple(typed)


def _typed_object(key: TypedKey, item: Mapping[str, object]) -> Typed:
    value, types, pref, label = (item.get(k) for k in ("value", "types", "pref", "label"))
    if not isinstance(value, str):
        raise InvalidTyping(f'{key.name}: a typed value needs "value", a string')
    if isinstance(types, str):
        types = [types]
    if types is None:
        types = []
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise InvalidTyping(f'{key.name}: "types" must be a string or a list of strings')
    if label is not None and not isinstance(label, str):
        raise InvalidTyping(f'{key.name}: "label" must be a string')
    if pref is not None and type(pref) is not int:
        raise InvalidTyping(f'{key.name}: "pref" must be a whole number from 1 to 100')
    try:
        return Typed(value, (*key.types, *types), pref, label)
    except InvalidTyping as exc:
        raise InvalidTyping(f"{key.name}: {exc}") from None
