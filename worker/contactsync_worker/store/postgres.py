"""The state store in a region's PostgreSQL database (psycopg 3, async).

Tables live in their own schema (default ``contactsync``), created on first use. One
connection per store, one transaction at a time on it: activities of one worker queue
briefly, and several workers (or stores) use several connections. Appenders to the same
audit chain serialize on the chain head row (``SELECT … FOR UPDATE``). A broken connection
is dropped and the next call reconnects, with the connection string as it is then (read
from the mounted Secret: a rotated password is used without a restart); connection and
server trouble surfaces as :class:`~contactsync_api.errors.StoreUnavailable`, never with the
DSN in the message.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from contactsync_api.errors import StoreUnavailable
from contactsync_worker.store._base import Clock, SqlStore, system_clock
from contactsync_worker.store._schema import POSTGRES, migrate
from contactsync_worker.store._sql import NUMBERED, Param, Params, Row, expand, multirow
from contactsync_worker.store.copy import BATCH

DEFAULT_SCHEMA = "contactsync"
# Serializes schema creation and migration across every worker on the database.
_MIGRATION_LOCK = 0x636F6E7453796E63  # "contSync"
CONNECT_TIMEOUT_SECONDS = 10


class _PgTx:
    locks_rows = True  # the chain head is read with SELECT … FOR UPDATE

    def __init__(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        self._conn = conn

    async def execute(self, query: str, params: Params = ()) -> int:
        text, flat = expand(query, params, NUMBERED, arrays=True)
        async with self._cursor() as cursor:
            # Without parameters the text goes as it is (DDL with "$$" bodies).
            await cursor.execute(text, flat or None)
            return cursor.rowcount

    async def executemany(self, query: str, rows: Sequence[Sequence[Param]]) -> None:
        # One statement for a page of rows, not one per row (pipelined or not, each costs
        # the server a statement and the client a round of messages).
        async with self._cursor() as cursor:
            for text, flat in multirow(query, rows, NUMBERED):
                await cursor.execute(text, flat)

    async def fetchall(self, query: str, params: Params = ()) -> list[Row]:
        text, flat = expand(query, params, NUMBERED, arrays=True)
        async with self._cursor() as cursor:
            await cursor.execute(text, flat or None)
            return await cursor.fetchall()

    def _cursor(self) -> psycopg.AsyncRawCursor[TupleRow]:
        # PostgreSQL's own $1 placeholders: psycopg has no "%s" to find and replace, which
        # for a statement of thousands of them costs more than the statement itself.
        return psycopg.AsyncRawCursor(self._conn)


class PostgresStore(SqlStore):
    """A :class:`~contactsync_worker.store.StateStore` in one schema of a PostgreSQL database."""

    def __init__(
        self,
        dsn: str | Callable[[], Awaitable[str]],
        *,
        schema: str = DEFAULT_SCHEMA,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(clock)
        self._dsn = dsn
        self._schema = schema
        self._conn: psycopg.AsyncConnection[TupleRow] | None = None
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"PostgresStore(schema={self._schema!r})"  # never the DSN: it holds a password

    @classmethod
    async def open(
        cls,
        dsn: str | Callable[[], Awaitable[str]],
        *,
        schema: str = DEFAULT_SCHEMA,
        clock: Clock = system_clock,
    ) -> PostgresStore:
        """Connect, create the schema and tables if missing, and migrate."""
        store = cls(dsn, schema=schema, clock=clock)
        async with store._lock:
            await store._connection()
        return store

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def _connection(self) -> psycopg.AsyncConnection[TupleRow]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        dsn = self._dsn if isinstance(self._dsn, str) else await self._dsn()
        try:
            conn = await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot connect to the PostgreSQL state store ({type(exc).__name__})"
            ) from exc
        try:
            await self._prepare(conn)
        except psycopg.OperationalError as exc:
            await conn.close()
            raise StoreUnavailable(
                f"the PostgreSQL state store is unavailable ({type(exc).__name__})"
            ) from exc
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        return conn

    async def _prepare(self, conn: psycopg.AsyncConnection[TupleRow]) -> None:
        schema = sql.Identifier(self._schema)
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            exists = await conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)
            )
            # Checked first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even
            # when a DBA made the schema beforehand.
            if await exists.fetchone() is None:
                await conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            # Session-wide (survives the commit), so every query finds the tables unqualified.
            await conn.execute(sql.SQL("SET search_path TO {}").format(schema))
            await migrate(_PgTx(conn), POSTGRES, self._clock())

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[_PgTx]:
        # PostgreSQL takes row locks as statements need them (FOR UPDATE on the chain head),
        # so read and write transactions begin alike.
        async with self._lock:
            conn = await self._connection()
            try:
                async with conn.transaction():
                    yield _PgTx(conn)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if conn.closed or conn.broken:
                    self._conn = None
                    await conn.close()
                raise StoreUnavailable(
                    f"the PostgreSQL state store is unavailable ({type(exc).__name__})"
                ) from exc


class PostgresReader:
    """A real PostgreSQL state store, read in one ``REPEATABLE READ READ ONLY`` transaction
    that is rolled back: the server refuses any write in it, and every table is read as of
    one moment."""

    def __init__(self, conn: psycopg.AsyncConnection[TupleRow], schema: str) -> None:
        self._conn = conn
        self._schema = schema

    @classmethod
    @asynccontextmanager
    async def open(
        cls, conninfo: Callable[[], Awaitable[str]], schema: str
    ) -> AsyncIterator[PostgresReader]:
        try:
            conn = await psycopg.AsyncConnection.connect(await conninfo(), connect_timeout=10)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot connect to the PostgreSQL state store ({type(exc).__name__})"
            ) from exc
        try:
            await conn.set_read_only(True)
            await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
            yield cls(conn, schema)
        except psycopg.Error as exc:  # only the reader speaks PostgreSQL in this block
            raise StoreUnavailable(
                f"cannot read the PostgreSQL state store ({type(exc).__name__})"
            ) from exc
        finally:
            if not conn.broken:
                await conn.rollback()  # nothing to undo: the transaction is read-only
            await conn.close()

    async def version(self) -> int | None:
        cursor = await self._conn.execute(
            "SELECT to_regclass(%s)", (f'"{self._schema}".schema_migrations',)
        )
        found = await cursor.fetchone()
        if found is None or found[0] is None:
            return None
        query = sql.SQL("SELECT max(version) FROM {}.schema_migrations").format(
            sql.Identifier(self._schema)
        )
        row = await (await self._conn.execute(query)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    async def rows(
        self, table: str, columns: Sequence[str], scope: str
    ) -> AsyncIterator[list[Row]]:
        query = sql.SQL("SELECT {} FROM {}.{} WHERE scope = %s").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.Identifier(self._schema),
            sql.Identifier(table),
        )
        # A server-side cursor: a large scope comes over a batch at a time.
        async with self._conn.cursor(name=f"copy_{table}") as cursor:
            await cursor.execute(query, (scope,))
            while batch := await cursor.fetchmany(BATCH):
                yield batch
