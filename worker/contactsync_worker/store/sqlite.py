"""The state store in a SQLite file, for local mode and single-replica workers.

Standard-library ``sqlite3`` on one dedicated thread per store (what aiosqlite does, without
a dependency for it): the connection lives and runs on that thread, and the event loop
awaits each statement. Write transactions start with ``BEGIN IMMEDIATE``, which takes
SQLite's database write lock up front, so two stores (or processes) on one file serialize
instead of failing half-way with SQLITE_BUSY; WAL lets readers continue meanwhile.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol, TypeVar

from contactsync_api.errors import StoreUnavailable
from contactsync_worker.store._base import Clock, SqlStore, system_clock
from contactsync_worker.store._schema import SQLITE, migrate
from contactsync_worker.store._sql import Param, Params, Row, expand, time_text

T = TypeVar("T")

# Errors that mean "busy or out of resources now", not "this query is wrong".
_TRANSIENT = frozenset(
    {"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL", "SQLITE_CANTOPEN"}
)
BUSY_TIMEOUT_SECONDS = 30.0


def _bind(params: Sequence[Param | list[str]]) -> tuple[object, ...]:
    # Times become fixed-width UTC text, so comparing them compares instants.
    return tuple(time_text(p) if isinstance(p, datetime) else p for p in params)


def _rollback(conn: sqlite3.Connection) -> None:
    # A failed COMMIT (busy) leaves the transaction open; a failed BEGIN opened none.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class _Runner(Protocol):
    """Runs a function on the connection's thread."""

    def __call__(self, fn: Callable[[], T]) -> Awaitable[T]: ...


class _SqliteTx:
    locks_rows = False  # BEGIN IMMEDIATE already holds the database write lock

    def __init__(self, conn: sqlite3.Connection, run: _Runner) -> None:
        self._conn = conn
        self._run = run

    async def execute(self, query: str, params: Params = ()) -> int:
        text, flat = expand(query, params, "?")
        return await self._run(lambda: self._conn.execute(text, _bind(flat)).rowcount)

    async def executemany(self, query: str, rows: Sequence[Sequence[Param]]) -> None:
        if not rows:
            return
        bound = [_bind(row) for row in rows]
        await self._run(lambda: self._conn.executemany(query, bound))

    async def fetchall(self, query: str, params: Params = ()) -> list[Row]:
        text, flat = expand(query, params, "?")
        return await self._run(lambda: self._conn.execute(text, _bind(flat)).fetchall())


class SqliteStore(SqlStore):
    """A :class:`~contactsync_worker.store.StateStore` in one SQLite file."""

    def __init__(self, path: Path | str, *, clock: Clock = system_clock) -> None:
        super().__init__(clock)
        self._path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contactsync-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()  # one transaction at a time on the one connection

    @classmethod
    async def open(cls, path: Path | str, *, clock: Clock = system_clock) -> SqliteStore:
        """Open (creating the file and schema if needed) and migrate."""
        store = cls(path, clock=clock)
        try:
            store._conn = await store._run(store._connect)
            async with store._transaction(write=True) as tx:
                await migrate(tx, SQLITE, clock())
        except BaseException:
            await store.aclose()
            raise
        return store

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await self._run(conn.close)
        self._executor.shutdown(wait=False)

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # Runs on the store's thread, and sqlite3's same-thread check stays on to prove that
        # every later use does too. isolation_level=None: this module issues BEGIN itself.
        conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        return conn

    def _run(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[_SqliteTx]:
        async with self._lock:
            conn = self._conn
            if conn is None:
                raise StoreUnavailable("the SQLite state store is closed")
            try:
                await self._run(partial(conn.execute, "BEGIN IMMEDIATE" if write else "BEGIN"))
                try:
                    yield _SqliteTx(conn, self._run)
                    await self._run(partial(conn.execute, "COMMIT"))
                except BaseException:
                    await self._run(partial(_rollback, conn))
                    raise
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorname", None) not in _TRANSIENT:
                    raise
                raise StoreUnavailable(
                    f"the SQLite state store is unavailable ({exc.sqlite_errorname})"
                ) from exc
