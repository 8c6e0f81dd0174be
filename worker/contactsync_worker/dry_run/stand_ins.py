"""The region a dry run syncs: real sources (only read, and counted), and in place of each
destination a stand-in that writes nothing and counts what would be written.

The stand-in says "create" or "update" as the state store knows the contact (written to
that destination before or not), which is what the engine's own audit trail says; it never
connects to the destination. The engine records what it "wrote" in the store it is given,
which in a dry run is a throwaway copy, so later pages of the run see those writes as the
real run's pages would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from contactsync_api.errors import ConfigurationError
from contactsync_worker.contacts.model import Contact, Page, canonical_value
from contactsync_worker.destinations import DestinationAdapter, Record, WriteResult
from contactsync_worker.dry_run.report import Change, ContactChange
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.sources import SourceAdapter
from contactsync_worker.store import StateStore


@dataclass
class DestinationTally:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    # Contacts held before the run that it would update or delete (a contact it creates
    # and then changes again is not one of them).
    touched_held: set[str] = field(default_factory=set)
    created_ids: set[str] = field(default_factory=set)
    changes: list[ContactChange] = field(default_factory=list)


@dataclass
class SourceTally:
    read: int = 0


@dataclass
class Tally:
    """What the stand-ins counted, by destination and source name."""

    detail: bool = False  # collect each change by contact id and field names
    values: bool = False  # ... and with the values the records would hold
    destinations: dict[str, DestinationTally] = field(default_factory=dict)
    sources: dict[str, SourceTally] = field(default_factory=dict)

    def destination(self, name: str) -> DestinationTally:
        return self.destinations.setdefault(name, DestinationTally())

    def source(self, name: str) -> SourceTally:
        return self.sources.setdefault(name, SourceTally())


class PlannedDestination(DestinationAdapter):
    """A destination that records what it is asked to write and writes nothing."""

    def __init__(
        self, name: str, store: StateStore, scope: str, tally: DestinationTally, owner: Tally
    ) -> None:
        self._name = name
        self._store = store
        self._scope = scope
        self._tally = tally
        self._owner = owner

    async def upsert(self, records: list[Record]) -> WriteResult:
        ids = [r.contact_id for r in records]
        written = await self._store.written_hashes(self._scope, self._name, ids)
        result = WriteResult()
        for record in records:
            held = record.contact_id in written
            if held:
                result.updated += 1
                if record.contact_id not in self._tally.created_ids:
                    self._tally.touched_held.add(record.contact_id)
            else:
                result.created += 1
                self._tally.created_ids.add(record.contact_id)
            self._note(record.contact_id, Change.UPDATE if held else Change.CREATE, record)
        self._tally.created += result.created
        self._tally.updated += result.updated
        return result

    async def delete(self, contact_ids: list[str]) -> WriteResult:
        # The engine deletes only what the store says this destination holds.
        for contact_id in contact_ids:
            if contact_id not in self._tally.created_ids:
                self._tally.touched_held.add(contact_id)
            self._note(contact_id, Change.DELETE, None)
        self._tally.deleted += len(contact_ids)
        return WriteResult(deleted=len(contact_ids))

    async def count(self) -> int:
        return await self._store.count_written(self._scope, self._name)

    async def aclose(self) -> None:
        """Nothing was opened."""

    def _note(self, contact_id: str, change: Change, record: Record | None) -> None:
        if not self._owner.detail:
            return
        fields = tuple(sorted(str(f) for f in record.fields)) if record else ()
        values: Mapping[str, object] | None = None
        if record is not None and self._owner.values:
            values = {str(f): canonical_value(f, v) for f, v in sorted(record.fields.items())}
        self._tally.changes.append(ContactChange(contact_id, change, fields, values))


class CountedSource(SourceAdapter):
    """A source as it is, counting the records its pages list."""

    def __init__(self, source: SourceAdapter, tally: SourceTally) -> None:
        self._source = source
        self._tally = tally

    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        page = await self._source.fetch(cursor, checkpoint)
        self._tally.read += len(page.contacts) + len(page.quarantined)
        return page

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        return await self._source.fetch_items(item_ids)

    async def aclose(self) -> None:
        await self._source.aclose()


@dataclass
class DryRunRegion(RegionRuntime):
    """The region with counted sources and stand-in destinations. ``plan_store``: the
    throwaway copy the stand-ins read (``store`` may be a transaction of it)."""

    plan_store: StateStore | None = None
    tally: Tally = field(default_factory=Tally)

    def source(self, name: str) -> SourceAdapter:
        adapter = super().source(name)
        if not isinstance(adapter, CountedSource):
            adapter = CountedSource(adapter, self.tally.source(name))
            self._sources[name] = adapter
        return adapter

    def destination(self, name: str) -> DestinationAdapter:
        if name not in self._destinations:
            if not any(d.name == name for d in self.config.destinations):
                raise ConfigurationError(
                    f"destination {name!r} is not in this region's configuration"
                )
            self._destinations[name] = PlannedDestination(
                name,
                self.plan_store or self.store,
                self.scope,
                self.tally.destination(name),
                self.tally,
            )
        return self._destinations[name]
