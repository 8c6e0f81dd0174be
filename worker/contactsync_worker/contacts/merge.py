"""One person from several sources: merging records that share an identity (pure).

Scalar fields come from the first source, in the order the spec lists sources,
that has them; multi-valued fields are the union of every source's values in
that order, without duplicates. A typed value (an email, phone, address or URL)
that several sources hold is written once, as the first source spells it, with
every type any source gives it, the best preference any gives, and the first
label: what each source knows about a value is kept, none overrides another.
The merged record keeps only allowed fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial

from contactsync_api.fields import ContactField
from contactsync_worker.contacts.model import MULTI_VALUED, Contact, FieldValue, normalize_phone
from contactsync_worker.contacts.typed import TYPED_FIELDS, as_typed, texts, united_values


def same_value_key(field: ContactField, value: str) -> str:
    """What makes two values of ``field`` the same: case-blind emails, digits of phones."""
    if field is ContactField.EMAILS:
        return value.strip().lower()
    if field is ContactField.PHONES:
        return normalize_phone(value)
    return value


def merge_fields(
    contributions: Iterable[Contact], source_order: Sequence[str], allowed: Iterable[ContactField]
) -> dict[ContactField, FieldValue]:
    rank = {name: index for index, name in enumerate(source_order)}
    ordered = sorted(contributions, key=lambda c: (rank.get(c.source, len(rank)), c.item_id))
    merged: dict[ContactField, FieldValue] = {}
    for field in allowed:
        values = [c.fields[field] for c in ordered if field in c.fields]
        if field in TYPED_FIELDS:
            typed = [v for value in values for v in as_typed(value)]
            if typed:
                merged[field] = united_values(typed, partial(same_value_key, field))
        elif field in MULTI_VALUED:
            seen: dict[str, str] = {}
            for value in values:
                for item in texts(value):
                    seen.setdefault(same_value_key(field, item), item)
            if seen:
                merged[field] = tuple(seen.values())
        elif values:
            merged[field] = values[0]
    return merged


def merged_uid(contributions: Iterable[Contact], source_order: Sequence[str]) -> str | None:
    rank = {name: index for index, name in enumerate(source_order)}
    uids = sorted((rank.get(c.source, len(rank)), c.uid) for c in contributions if c.uid)
    return uids[0][1] if uids else None
