"""The PostgreSQL destination upserts by stable id, rewrites only what changed, and reports
fields its table cannot hold, against a real server. Each test gets its own schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from contactsync_api.endpoints.postgres import PostgresDestinationSpec
from contactsync_api.errors import DestinationUnavailable
from contactsync_api.fields import ContactField
from contactsync_worker.destinations import Record, WriteResult
from contactsync_worker.destinations.postgres import PostgresDestination
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port

pytestmark = pytest.mark.postgres

F = ContactField
ERIKA = Record(
    contact_id="c-erika",
    fields={
        F.FULL_NAME: "Erika Mustermann",
        F.EMAILS: ("erika@example.org", "e.mustermann@example.com"),
        F.PHONES: ("+49 30 1234567",),
        F.PHOTO: "data:image/png;base64,iVBORw0KGgo=",
    },
    uid="uid-erika",
)
ZOE = Record(contact_id="c-zoe", fields={F.FULL_NAME: "Zoë Ünicode", F.TITLE: "Dr."})


class Table:
    """Reads the destination table behind the adapter's back."""

    def __init__(self, dsn: str, schema: str) -> None:
        self.dsn = dsn
        self.schema = schema
        self.name = sql.Identifier(schema, "contacts")

    async def run(self, statement: sql.Composed) -> list[tuple[Any, ...]]:
        async with await psycopg.AsyncConnection.connect(self.dsn, autocommit=True) as conn:
            cursor = await conn.execute(statement)
            return await cursor.fetchall() if cursor.description else []

    async def row(self, contact_id: str) -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:
            cursor = await conn.execute(
                sql.SQL("SELECT * FROM {} WHERE contact_id = %s").format(self.name), (contact_id,)
            )
            values = await cursor.fetchone()
            assert values is not None, f"no row for {contact_id}"
            assert cursor.description is not None
            return dict(zip([c.name for c in cursor.description], values, strict=True))


@pytest.fixture
async def table(postgres_server: PostgresServer) -> AsyncIterator[Table]:
    table = Table(postgres_server.dsn, f"dest_{uuid.uuid4().hex[:12]}")
    yield table
    await table.run(
        sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(table.schema))
    )


@pytest.fixture
async def destination(table: Table) -> AsyncIterator[PostgresDestination]:
    spec = PostgresDestinationSpec.model_validate(
        {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "schema": table.schema}
    )
    destination = PostgresDestination(table.dsn, schema=spec.schema_name, table=spec.table)
    yield destination
    await destination.aclose()


async def test_upsert_creates_the_table_and_rows(
    destination: PostgresDestination, table: Table
) -> None:
    result = await destination.upsert([ERIKA, ZOE])

    assert result == WriteResult(created=2)
    row = await table.row("c-erika")
    assert row["full_name"] == "Erika Mustermann"
    assert row["emails"] == ["erika@example.org", "e.mustermann@example.com"]
    assert row["phones"] == ["+49 30 1234567"]
    assert row["photo"] == "data:image/png;base64,iVBORw0KGgo="
    assert row["uid"] == "uid-erika"
    assert row["title"] is None
    assert (await table.row("c-zoe"))["full_name"] == "Zoë Ünicode"
    assert await destination.count() == 2


async def test_an_identical_upsert_leaves_rows_untouched(
    destination: PostgresDestination, table: Table
) -> None:
    await destination.upsert([ERIKA, ZOE])
    before = await table.row("c-erika")

    result = await destination.upsert([ERIKA, ZOE])

    assert result == WriteResult(unchanged=2)
    after = await table.row("c-erika")
    assert after["updated_at"] == before["updated_at"]
    assert after == before


async def test_a_changed_record_is_updated_and_others_counted_apart(
    destination: PostgresDestination, table: Table
) -> None:
    await destination.upsert([ERIKA, ZOE])
    before = await table.row("c-erika")
    changed = Record(contact_id="c-erika", fields={F.FULL_NAME: "Erika Musterfrau", F.TITLE: "CEO"})
    new = Record(contact_id="c-max", fields={F.FULL_NAME: "Max"})

    result = await destination.upsert([changed, ZOE, new])

    assert result == WriteResult(created=1, updated=1, unchanged=1)
    after = await table.row("c-erika")
    assert (after["full_name"], after["title"]) == ("Erika Musterfrau", "CEO")
    # Fields the record no longer has are cleared, not left stale.
    assert (after["emails"], after["photo"], after["uid"]) == (None, None, None)
    assert after["updated_at"] > before["updated_at"]


async def test_delete_removes_by_id(destination: PostgresDestination) -> None:
    await destination.upsert([ERIKA, ZOE])

    result = await destination.delete(["c-erika", "c-unknown"])

    assert result == WriteResult(deleted=1)
    assert await destination.count() == 1
    assert await destination.delete([]) == WriteResult()


async def test_count_of_an_empty_table_is_zero(destination: PostgresDestination) -> None:
    assert await destination.count() == 0


async def test_fields_the_table_lacks_are_reported_not_dropped_silently(
    destination: PostgresDestination, table: Table
) -> None:
    # A deployment that made the table itself, without phones and photo (and uid as int).
    await table.run(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(table.schema)))
    await table.run(
        sql.SQL(
            "CREATE TABLE {} (contact_id text PRIMARY KEY, uid integer, full_name text,"
            " emails text[], content_hash text NOT NULL)"
        ).format(table.name)
    )

    result = await destination.upsert([ERIKA, ZOE])

    assert result.created == 2
    assert result.unsupported_fields == {"phones": 1, "photo": 1, "title": 1, "uid": 1}
    row = await table.row("c-erika")
    assert (row["full_name"], row["emails"]) == ("Erika Mustermann", list(ERIKA.fields[F.EMAILS]))
    assert await destination.upsert([ERIKA, ZOE]) == WriteResult(
        unchanged=2, unsupported_fields={"phones": 1, "photo": 1, "title": 1, "uid": 1}
    )


@pytest.mark.parametrize("failure", ["no server", "wrong password"])
async def test_an_unreachable_server_is_unavailable_without_secrets(
    postgres_server: PostgresServer, failure: str
) -> None:
    password = "never-show-this-password"
    if failure == "no server":
        dsn = make_conninfo(host="127.0.0.1", port=free_port(), password=password, dbname="x")
    else:
        dsn = make_conninfo(postgres_server.dsn, password=password)
    destination = PostgresDestination(dsn, schema="public", table="contacts")

    calls = [
        lambda: destination.upsert([ERIKA]),
        lambda: destination.delete(["c-erika"]),
        destination.count,
    ]
    for call in calls:
        with pytest.raises(DestinationUnavailable) as raised:
            await call()
        assert password not in str(raised.value)
        assert dsn not in str(raised.value)
        assert isinstance(raised.value.__cause__, psycopg.OperationalError)
    await destination.aclose()


async def test_a_lost_connection_is_unavailable_then_reconnects(
    postgres_server: PostgresServer, table: Table
) -> None:
    name = f"dest-{uuid.uuid4().hex[:12]}"
    dsn = make_conninfo(postgres_server.dsn, application_name=name)
    destination = PostgresDestination(dsn, schema=table.schema)
    try:
        await destination.upsert([ERIKA])
        await table.run(
            sql.SQL(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = {}"
            ).format(sql.Literal(name))
        )

        with pytest.raises(DestinationUnavailable):
            await destination.count()
        assert await destination.count() == 1
    finally:
        await destination.aclose()
