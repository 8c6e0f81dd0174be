"""The PostgreSQL state store behaves exactly like the SQLite one, on a real server.

The test classes of tests/unit/test_store_sqlite.py and tests/unit/test_audit.py run here
unchanged; only ``harness`` differs: a fresh schema per test on the session's PostgreSQL.
Their concurrency test here means several connections racing for the chain head lock.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from contactsync_api.errors import StoreUnavailable
from contactsync_worker.store import StateStore
from contactsync_worker.store._sql import expand
from contactsync_worker.store.postgres import PostgresStore
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.unit import test_audit as audit_cases
from tests.unit import test_store_sqlite as store_cases
from tests.unit.test_store_sqlite import SCOPE, FakeClock, StoreHarness

pytestmark = pytest.mark.postgres


class PostgresHarness:
    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.opened: list[PostgresStore] = []

    async def open(self, clock: FakeClock) -> StateStore:
        store = await PostgresStore.open(self.dsn, schema=self.schema, clock=clock)
        self.opened.append(store)
        return store

    async def execute(self, statement: str, params: Sequence[str | None] = ()) -> None:
        await self.rows(statement, params, fetch=False)

    async def rows(
        self, query: str, params: Sequence[str | None] = (), *, fetch: bool = True
    ) -> list[tuple[object, ...]]:
        text, flat = expand(query, params, "%s")
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            cursor = await conn.execute(text, flat or None)
            return await cursor.fetchall() if fetch else []

    async def allow_audit_updates(self) -> None:
        await self.execute("DROP TRIGGER audit_log_append_only ON audit_log")

    async def close(self) -> None:
        for store in self.opened:
            await store.aclose()
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            await conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )


class PostgresCase:
    @pytest.fixture
    async def harness(self, postgres_server: PostgresServer) -> AsyncIterator[StoreHarness]:
        harness = PostgresHarness(postgres_server.dsn, f"test_{uuid.uuid4().hex[:12]}")
        yield harness
        await harness.close()


class TestStateStoreOnPostgres(PostgresCase, store_cases.TestStateStore):
    pass


class TestAuditChainOnPostgres(PostgresCase, audit_cases.TestAuditChain):
    pass


class TestRunCountsOnPostgres(PostgresCase, store_cases.TestRunCounts):
    async def test_the_identities_lock_holds_off_another_worker_until_commit(
        self, harness: StoreHarness, clock: FakeClock
    ) -> None:
        one, other = await harness.open(clock), await harness.open(clock)

        async def second() -> dict[str, str]:
            async with other.atomic() as tx:
                await tx.lock_identities(SCOPE)
                return await tx.lookup_identities(SCOPE, ["p1"])

        async with one.atomic() as tx:
            await tx.lock_identities(SCOPE)
            waiting = asyncio.create_task(second())
            await asyncio.sleep(0.5)
            assert not waiting.done(), "another store got past the lock"
            await tx.bind_identities(SCOPE, {"p1": "c1"})
        # It went on once the first committed, and saw what the first bound.
        assert await asyncio.wait_for(waiting, timeout=10) == {"p1": "c1"}


async def test_an_unreachable_store_is_unavailable_without_the_dsn() -> None:
    dsn = make_conninfo(
        host="127.0.0.1", port=free_port(), user="u", password="secret-pw", dbname="d"
    )

    with pytest.raises(StoreUnavailable) as raised:
        await PostgresStore.open(dsn)

    assert "secret-pw" not in str(raised.value)
    assert dsn not in str(raised.value)
    assert isinstance(raised.value.__cause__, psycopg.OperationalError)


async def test_a_dropped_connection_fails_one_call_and_the_next_reconnects(
    postgres_server: PostgresServer,
) -> None:
    name = f"store-{uuid.uuid4().hex[:12]}"
    harness = PostgresHarness(make_conninfo(postgres_server.dsn, application_name=name), name)
    try:
        store = await harness.open(FakeClock())
        await store.commit_checkpoint("s", "hr", "t1")
        await harness.execute(
            """SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE application_name = ? AND pid <> pg_backend_pid()""",
            (name,),
        )

        with pytest.raises(StoreUnavailable, match="unavailable"):
            await store.get_checkpoint("s", "hr")
        assert await store.get_checkpoint("s", "hr") == "t1"
    finally:
        await harness.close()
