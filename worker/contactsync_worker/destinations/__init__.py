"""Destination adapters: one module per external system. Writes are idempotent: stable ids,
If-None-Match / If-Match preconditions, upserts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from contactsync_api.fields import ContactField
from contactsync_worker.contacts.model import FieldValue


@dataclass(frozen=True)
class Record:
    """A merged contact as written to a destination, under its stable id."""

    contact_id: str  # stable, derived from identity; the destination's key
    fields: Mapping[ContactField, FieldValue]
    uid: str | None = None


@dataclass
class WriteResult:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    # Fields a destination cannot hold, by field name: reported, never silently dropped.
    unsupported_fields: dict[str, int] = field(default_factory=dict)


class DestinationAdapter(Protocol):
    async def upsert(self, records: list[Record]) -> WriteResult: ...

    async def delete(self, contact_ids: list[str]) -> WriteResult: ...

    async def count(self) -> int:
        """Contacts this ContactSync wrote that the destination holds (for the delete guard)."""
        ...

    async def aclose(self) -> None: ...


def supported(
    fields: Mapping[ContactField, FieldValue], holds: frozenset[ContactField]
) -> tuple[dict[ContactField, FieldValue], list[str]]:
    """Split a record's fields into those a destination holds and the names of those it cannot."""
    kept = {k: v for k, v in fields.items() if k in holds}
    return kept, sorted(str(k) for k in fields if k not in holds)
