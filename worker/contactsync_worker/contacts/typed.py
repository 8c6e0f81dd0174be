"""Typed values: an email, phone, address or URL with its types, preference and label (pure).

A phone book must tell a mobile from a desk phone, so these fields keep more than their text:

    value   the text (an address in its vCard form "pobox;ext;street;locality;region;code;country";
            a phone as written, a vCard 4 ``tel:`` URI without its scheme, ``;ext=`` kept)
    types   lower-case tokens, sorted: ``work``, ``home``, ``cell``, ``voice``, ``fax``, ...
            (vCard's vocabulary; any token of letters, digits and ``-`` is kept)
    pref    1 (most preferred) to 100, as vCard 4's PREF; None when not preferred
    label   free text a person gave the value ("reception"; an address's delivery label)

Every source and destination speaks this one form; docs/worker.md says how each maps it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from contactsync_api.fields import ContactField

TYPED_FIELDS = frozenset(
    {ContactField.EMAILS, ContactField.PHONES, ContactField.ADDRESSES, ContactField.URLS}
)
PREFERRED = "pref"  # as a type (vCard 3.0, 2.1, a file's "emails.pref"): preference 1
BEST_PREF, WORST_PREF = 1, 100
_TOKEN = re.compile(r"[a-z0-9][a-z0-9-]*")


class InvalidTyping(ValueError):
    """A type or preference that cannot be kept; the message never holds the value."""


def is_type_token(text: str) -> bool:
    return _TOKEN.fullmatch(text.strip().lower()) is not None


@dataclass(frozen=True)
class Typed:
    """One value of a typed field. Types are normalized on creation, so equal means equal."""

    value: str
    types: tuple[str, ...] = ()
    pref: int | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if self.types == () and self.pref is None and self.label is None:
            return  # a bare value, most of them: nothing to normalize
        tokens = {t.strip().lower() for t in self.types}
        if not all(_TOKEN.fullmatch(t) for t in tokens):
            raise InvalidTyping("a type is a word of letters, digits and '-'")
        pref = self.pref
        if pref is not None and (type(pref) is not int or not BEST_PREF <= pref <= WORST_PREF):
            raise InvalidTyping(f"a preference is a whole number from {BEST_PREF} to {WORST_PREF}")
        if PREFERRED in tokens:
            tokens.discard(PREFERRED)
            pref = BEST_PREF
        object.__setattr__(self, "types", tuple(sorted(tokens)))
        object.__setattr__(self, "pref", pref)
        object.__setattr__(self, "label", (self.label or "").strip() or None)

    def as_json(self) -> dict[str, object]:
        """The documented JSON shape: every key present, so consumers need no defaults."""
        return {
            "value": self.value,
            "types": list(self.types),
            "pref": self.pref,
            "label": self.label,
        }

    def united(self, other: Typed) -> Typed:
        """The same value as seen by two records: every type either gives, the better
        preference, and this one's label unless it has none."""
        prefs = [p for p in (self.pref, other.pref) if p is not None]
        return Typed(
            self.value,
            (*self.types, *other.types),
            min(prefs) if prefs else None,
            self.label or other.label,
        )


def as_typed(values: str | Iterable[str | Typed] | None) -> tuple[Typed, ...]:
    """A typed field's values as Typed: plain text is a value without types."""
    if values is None:
        return ()
    items = (values,) if isinstance(values, str) else tuple(values)
    return tuple(v if isinstance(v, Typed) else Typed(v) for v in items)


def texts(values: str | Iterable[str | Typed] | None) -> tuple[str, ...]:
    """Just the text of each value, typed or not."""
    if values is None:
        return ()
    items = (values,) if isinstance(values, str) else tuple(values)
    return tuple(v.value if isinstance(v, Typed) else v for v in items)


def united_values(values: Iterable[Typed], key: Callable[[str], str] = str) -> tuple[Typed, ...]:
    """Values without repeats, in first-seen order; a repeat (equal under ``key``) adds its
    types, preference and label to the first."""
    seen: dict[str, Typed] = {}
    for value in values:
        k = key(value.value)
        seen[k] = seen[k].united(value) if k in seen else value
    return tuple(seen.values())
