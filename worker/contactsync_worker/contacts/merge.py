"""One person from several sources: merging records that share an identity (pure).

Scalar fields come from the first source, in the order the spec lists sources,
that has them; multi-valued fields are the union of every source's values in
that order, without duplicates. The merged record keeps only allowed fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from contactsync_api.fields import ContactField
from contactsync_worker.contacts.model import MULTI_VALUED, Contact, FieldValue, normalize_phone


def _key(field: ContactField, value: str) -> str:
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
        if field in MULTI_VALUED:
            seen: dict[str, str] = {}
            for contact in ordered:
                value = contact.fields.get(field)
                for item in (value,) if isinstance(value, str) else (value or ()):
                    seen.setdefault(_key(field, item), item)
            if seen:
                merged[field] = tuple(seen.values())
        else:
            first = next((c.fields[field] for c in ordered if field in c.fields), None)
            if first is not None:
                merged[field] = first
    return merged


def merged_uid(contributions: Iterable[Contact], source_order: Sequence[str]) -> str | None:
    rank = {name: index for index, name in enumerate(source_order)}
    uids = sorted((rank.get(c.source, len(rank)), c.uid) for c in contributions if c.uid)
    return uids[0][1] if uids else None
