"""The StateStore behaviour on any SQL backend: each method is one transaction of queries.

Backends provide the transaction (:meth:`SqlStore._transaction`); the queries live in
``_items``, ``_links``, ``_suppressions`` and ``_chain`` and are the same for SQLite and
PostgreSQL, which is what keeps the two stores behaving alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Concatenate, ParamSpec, TypeVar

from contactsync_worker.audit import AuditAnchor, AuditEvent, AuditRecord, ChainHead
from contactsync_worker.store import (
    AuditPurge,
    ItemKey,
    ItemState,
    ItemWrite,
    SubjectRows,
    Suppression,
    _chain,
    _items,
    _links,
    _runs,
    _suppressions,
)
from contactsync_worker.store._sql import Tx

P = ParamSpec("P")
R = TypeVar("R")
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class SqlStore(ABC):
    """Implements :class:`~contactsync_worker.store.StateStore` over :class:`Tx`."""

    def __init__(self, clock: Clock = system_clock) -> None:
        self._clock = clock

    @abstractmethod
    def _transaction(self, *, write: bool) -> AbstractAsyncContextManager[Tx]:
        """One transaction; ``write`` ones hold the database's write lock from the start."""

    @abstractmethod
    async def aclose(self) -> None: ...

    async def _read(
        self, query: Callable[Concatenate[Tx, P], Awaitable[R]], *args: P.args, **kw: P.kwargs
    ) -> R:
        async with self._transaction(write=False) as tx:
            return await query(tx, *args, **kw)

    async def _write(
        self, query: Callable[Concatenate[Tx, P], Awaitable[R]], *args: P.args, **kw: P.kwargs
    ) -> R:
        async with self._transaction(write=True) as tx:
            return await query(tx, *args, **kw)

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[SqlStore]:
        async with self._transaction(write=True) as tx:
            yield _InTransaction(tx, self._clock)

    async def lock_identities(self, scope: str) -> None:
        await self._write(_runs.lock_identities, scope)

    async def reserve_deletions(self, scope: str, run: str, count: int) -> int:
        return await self._write(_runs.reserve_deletions, scope, run, count)

    async def run_held(self, scope: str, run: str, destination: str, held_now: int) -> int:
        return await self._write(_runs.run_held, scope, run, destination, held_now)

    async def forget_run(self, scope: str, run: str) -> int:
        return await self._write(_runs.forget_run, scope, run)

    async def check_pseudonym_key(self, scope: str, fingerprint: str) -> None:
        await self._write(_items.check_pseudonym_key, scope, fingerprint)

    async def adopt_pseudonym_key(self, scope: str, fingerprint: str, previous: str | None) -> bool:
        return await self._write(_items.adopt_pseudonym_key, scope, fingerprint, previous)

    async def get_checkpoint(self, scope: str, source: str) -> str | None:
        return await self._read(_items.get_checkpoint, scope, source)

    async def commit_checkpoint(self, scope: str, source: str, checkpoint: str | None) -> None:
        await self._write(_items.commit_checkpoint, scope, source, checkpoint, self._clock())

    async def get_items(
        self, scope: str, source: str, item_ids: Collection[str]
    ) -> dict[str, ItemState]:
        if not item_ids:
            return {}
        return await self._read(_items.get_items, scope, source, item_ids)

    async def upsert_items(
        self, scope: str, source: str, items: Sequence[ItemWrite], run: str
    ) -> None:
        if items:
            await self._write(_items.upsert_items, scope, source, items, run)

    async def mark_seen(self, scope: str, source: str, item_ids: Collection[str], run: str) -> int:
        if not item_ids:
            return 0
        return await self._write(_items.mark_seen, scope, source, item_ids, run)

    async def unseen_items(
        self, scope: str, source: str, run: str, *, after: str | None = None, limit: int = 1000
    ) -> list[ItemState]:
        return await self._read(_items.unseen_items, scope, source, run, after, limit)

    async def mark_removed(self, scope: str, source: str, item_ids: Collection[str]) -> int:
        if not item_ids:
            return 0
        return await self._write(_items.mark_removed, scope, source, item_ids, self._clock())

    async def removed_items(
        self,
        scope: str,
        grace: timedelta,
        *,
        source: str | None = None,
        after: ItemKey | None = None,
        limit: int = 1000,
    ) -> list[ItemState]:
        cutoff = self._clock() - grace
        return await self._read(_items.removed_items, scope, cutoff, source, after, limit)

    async def forget_items(self, scope: str, source: str, item_ids: Collection[str]) -> int:
        return await self._write(_items.forget_items, scope, source, item_ids)

    async def forget_sync_state(self, scope: str) -> int:
        return await self._write(_items.forget_sync_state, scope)

    async def contributors(
        self, scope: str, contact_ids: Collection[str]
    ) -> dict[str, list[ItemState]]:
        if not contact_ids:
            return {}
        return await self._read(_items.contributors, scope, contact_ids)

    async def bind_identities(self, scope: str, bindings: Mapping[str, str]) -> None:
        if bindings:
            await self._write(_links.bind_identities, scope, bindings)

    async def lookup_identities(self, scope: str, pseudonyms: Collection[str]) -> dict[str, str]:
        if not pseudonyms:
            return {}
        return await self._read(_links.lookup_identities, scope, pseudonyms)

    async def identities_of(self, scope: str, contact_ids: Collection[str]) -> dict[str, list[str]]:
        return await self._read(_links.identities_of, scope, contact_ids)

    async def unbind_identities(self, scope: str, pseudonyms: Collection[str]) -> int:
        return await self._write(_links.unbind_identities, scope, pseudonyms)

    async def rebind_contacts(self, scope: str, old_ids: Collection[str], new_id: str) -> int:
        return await self._write(_links.rebind_contacts, scope, old_ids, new_id)

    async def written_hashes(
        self, scope: str, destination: str, contact_ids: Collection[str]
    ) -> dict[str, str]:
        if not contact_ids:
            return {}
        return await self._read(_links.written_hashes, scope, destination, contact_ids)

    async def record_written(self, scope: str, destination: str, hashes: Mapping[str, str]) -> None:
        if hashes:
            await self._write(_links.record_written, scope, destination, hashes, self._clock())

    async def record_written_audited(
        self,
        scope: str,
        destination: str,
        hashes: Mapping[str, str],
        events: Sequence[AuditEvent],
    ) -> None:
        async with self._transaction(write=True) as tx:
            if hashes:
                await _links.record_written(tx, scope, destination, hashes, self._clock())
            if events:
                await _chain.append(tx, scope, events, self._clock())

    async def forget_written_audited(
        self,
        scope: str,
        destination: str,
        contact_ids: Collection[str],
        events: Sequence[AuditEvent],
    ) -> int:
        async with self._transaction(write=True) as tx:
            forgotten = await _links.forget_written(tx, scope, destination, contact_ids)
            if events:
                await _chain.append(tx, scope, events, self._clock())
            return forgotten

    async def written_ids(
        self, scope: str, destination: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]:
        return await self._read(_links.written_ids, scope, destination, after, limit)

    async def count_written(self, scope: str, destination: str) -> int:
        return await self._read(_links.count_written, scope, destination)

    async def forget_written(
        self, scope: str, destination: str, contact_ids: Collection[str]
    ) -> int:
        return await self._write(_links.forget_written, scope, destination, contact_ids)

    async def index_carried(
        self, scope: str, source: str, carried: Mapping[str, Mapping[str, str]]
    ) -> None:
        if carried:
            await self._write(_links.index_carried, scope, source, carried)

    async def find_subject(self, scope: str, pseudonyms: Collection[str]) -> SubjectRows:
        return await self._read(_links.find_subject, scope, pseudonyms)

    async def erase_subject(self, scope: str, pseudonyms: Collection[str]) -> SubjectRows:
        return await self._write(_links.erase_subject, scope, pseudonyms)

    async def suppress(self, scope: str, entries: Sequence[Suppression]) -> int:
        if not entries:
            return 0
        return await self._write(_suppressions.suppress, scope, entries, self._clock())

    async def suppressions(self, scope: str, pseudonyms: Collection[str]) -> dict[str, Suppression]:
        if not pseudonyms:
            return {}
        return await self._read(_suppressions.suppressions, scope, pseudonyms)

    async def lift_suppressions(self, scope: str, pseudonyms: Collection[str]) -> list[Suppression]:
        return await self._write(_suppressions.lift, scope, pseudonyms)

    async def append_audit(self, scope: str, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        if not events:
            return []
        return await self._write(_chain.append, scope, events, self._clock())

    async def audit_records(
        self, scope: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[AuditRecord]:
        return await self._read(_chain.records, scope, after_seq, limit)

    async def audit_head(self, scope: str) -> ChainHead:
        return await self._read(_chain.head, scope)

    async def audit_anchor(self, scope: str) -> AuditAnchor | None:
        return await self._read(_chain.anchor, scope)

    async def purge_audit(self, scope: str, older_than: timedelta) -> AuditPurge:
        now = self._clock()
        return await self._write(_chain.purge, scope, now - older_than, now)


class _InTransaction(SqlStore):
    """The store :meth:`SqlStore.atomic` yields: every call runs in its one open transaction."""

    def __init__(self, tx: Tx, clock: Clock) -> None:
        super().__init__(clock)
        self._tx = tx

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[Tx]:
        yield self._tx

    async def aclose(self) -> None:
        """The transaction ends with the ``atomic`` block that opened it."""
