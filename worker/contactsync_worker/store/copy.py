"""One scope's state copied, read-only, into a throwaway SQLite file.

What a dry run syncs against: the copy behaves as the real store would (the same queries,
``SqliteStore``), while the real store is only ever read, in one read-only transaction (a
consistent snapshot of every table). A real SQLite file is opened with ``mode=ro``; a real
PostgreSQL store in a ``READ ONLY`` transaction that is rolled back, so the server itself
refuses any write (``store.postgres.PostgresReader``). A store at an older schema version is
copied at that version and the copy migrated, as a worker would migrate the real one.

The copy holds what the store holds (ids, pseudonyms, hashes, sync tokens), never contact
content, and of the audit chain only its head: appending to the copy continues the chain.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

from contactsync_api.errors import StoreUnavailable
from contactsync_worker.store import StoreSchemaTooNew
from contactsync_worker.store._schema import LATEST, MIGRATIONS, SQLITE
from contactsync_worker.store._sql import Row, time_text
from contactsync_worker.store.sqlite import SqliteStore

# The tables a sync reads or writes, with their columns, and the schema version that made
# each. The audit log itself is left out: a sync appends to it and reads only its head.
TABLES: tuple[tuple[str, tuple[str, ...], int], ...] = (
    ("scope_meta", ("scope", "name", "value"), 1),
    ("checkpoints", ("scope", "source", "checkpoint", "committed_at"), 1),
    (
        "items",
        ("scope", "source", "item_id", "contact_id", "content_hash", "last_seen_run", "removed_at"),
        1,
    ),
    ("identities", ("scope", "pseudonym", "contact_id"), 1),
    ("written", ("scope", "destination", "contact_id", "content_hash", "written_at"), 1),
    ("audit_head", ("scope", "seq", "hash"), 1),
    ("item_identities", ("scope", "source", "item_id", "pseudonym", "kind"), 2),
    (
        "suppressions",
        ("scope", "pseudonym", "kind", "erasure", "pseudonym_key", "suppressed_at"),
        2,
    ),
)
BATCH = 5000  # rows read and written at a time
T = TypeVar("T")


class ScopeReader(Protocol):
    """A read-only view of a real store, inside one snapshot."""

    async def version(self) -> int | None:
        """The store's schema version; None when it has no schema yet (never used)."""
        ...

    def rows(self, table: str, columns: Sequence[str], scope: str) -> AsyncIterator[list[Row]]:
        """The scope's rows of ``table``, ``columns`` in that order, a batch at a time."""
        ...


async def copy_scope(reader: ScopeReader, scope: str, target: Path) -> SqliteStore:
    """A new SQLite store at ``target`` (which must not exist) holding ``scope``'s rows as
    ``reader`` sees them, migrated to this worker's schema."""
    version = await reader.version()
    if version is not None and version > LATEST:
        raise StoreSchemaTooNew(
            f"the state store is at schema version {version}; this worker knows up to "
            f"{LATEST}: upgrade the worker"
        )
    copy = await asyncio.to_thread(_create, target, version or 0)
    try:
        for table, columns, since in TABLES:
            if version is None or since > version:
                continue
            async for batch in reader.rows(table, columns, scope):
                await asyncio.to_thread(_insert, copy, table, columns, batch)
        await asyncio.to_thread(copy.commit)
    finally:
        await asyncio.to_thread(copy.close)
    return await SqliteStore.open(target)  # migrates the copy from ``version`` on


def _create(target: Path, version: int) -> sqlite3.Connection:
    """A SQLite file with the schema up to ``version``, in an open transaction."""
    if target.exists():
        raise FileExistsError(f"{target} exists; a copy is made into a new file only")
    conn = sqlite3.connect(target, check_same_thread=False)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    for number, statements in MIGRATIONS:
        if number > version:
            break
        for statement in statements(SQLITE):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            (number, time_text(datetime.now().astimezone())),
        )
    return conn


def _insert(conn: sqlite3.Connection, table: str, columns: Sequence[str], rows: list[Row]) -> None:
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608 - names from TABLES
    conn.executemany(
        statement,
        [tuple(time_text(v) if isinstance(v, datetime) else v for v in row) for row in rows],
    )


class SqliteReader:
    """A real SQLite state file, opened read-only (``mode=ro``): SQLite refuses any write
    through it, and a read transaction sees one state however a worker writes meanwhile."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path) -> AsyncIterator[SqliteReader]:
        def connect() -> sqlite3.Connection:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN")
            return conn

        try:
            conn = await asyncio.to_thread(connect)
        except sqlite3.Error as exc:
            raise _unreadable(path, exc) from exc
        try:
            yield cls(conn, path)
        finally:
            await asyncio.to_thread(conn.close)  # the read transaction ends with it

    async def version(self) -> int | None:
        def read() -> int | None:
            found = self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            ).fetchall()
            if not found:
                return None
            row = self._conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            return None if row is None or row[0] is None else int(row[0])

        return await self._read(read)

    async def rows(
        self, table: str, columns: Sequence[str], scope: str
    ) -> AsyncIterator[list[Row]]:
        query = f"SELECT {', '.join(columns)} FROM {table} WHERE scope = ?"  # noqa: S608 - names from TABLES
        cursor = await self._read(lambda: self._conn.execute(query, (scope,)))
        while batch := await self._read(lambda: cursor.fetchmany(BATCH)):
            yield batch

    async def _read(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except sqlite3.Error as exc:
            raise _unreadable(self._path, exc) from exc


def _unreadable(path: Path, exc: sqlite3.Error) -> StoreUnavailable:
    return StoreUnavailable(f"cannot read the SQLite state store {path} ({type(exc).__name__})")
