"""Typed values in the PostgreSQL destination, against a real server: the jsonb column beside
each typed field's text[] one, a table made before values were typed gaining it, and a table
the role may not alter reporting the types it cannot hold. Each test gets its own schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.destinations import Record, WriteResult
from contactsync_worker.destinations.postgres import PostgresDestination
from tests.servers.postgres import SUPERUSER, SUPERUSER_PASSWORD, USER, PostgresServer

pytestmark = pytest.mark.postgres

ADA = Record(
    contact_id="c-ada",
    fields={
        F.FULL_NAME: "Ada Lovelace",
        F.EMAILS: (Typed("ada@example.org", ("work",), pref=1),),
        F.PHONES: (
            Typed("+44 20 7946 0018", ("cell", "voice"), pref=1),
            Typed("+44 20 7946 0019", ("work",), label="Reception"),
        ),
        F.URLS: (Typed("https://ada.example/"),),
    },
)
# What an older table made by the destination holds: every field, text and text[] only.
OLD_COLUMNS = (
    "contact_id text PRIMARY KEY, uid text, full_name text, emails text[], phones text[], "
    "addresses text[], urls text[], content_hash text NOT NULL, "
    "updated_at timestamptz NOT NULL DEFAULT now()"
)


@pytest.fixture
def schema(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"typed_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(admin_dsn(postgres_server), autocommit=True) as db:
        db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
async def destination(
    postgres_server: PostgresServer, schema: str
) -> AsyncIterator[PostgresDestination]:
    destination = PostgresDestination(postgres_server.dsn, schema=schema, table="contacts")
    yield destination
    await destination.aclose()


def admin_dsn(server: PostgresServer) -> str:
    return make_conninfo(server.dsn, user=SUPERUSER, password=SUPERUSER_PASSWORD)


def run(dsn: str, statement: sql.Composed | sql.SQL) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, autocommit=True, row_factory=dict_row) as db:
        cursor = db.execute(statement)
        return cursor.fetchall() if cursor.description else []


def table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, "contacts")


async def test_typed_values_are_json_beside_the_bare_values_in_the_same_order(
    destination: PostgresDestination, postgres_server: PostgresServer, schema: str
) -> None:
    assert await destination.upsert([ADA]) == WriteResult(created=1)

    [row] = run(postgres_server.dsn, sql.SQL("SELECT * FROM {}").format(table(schema)))
    assert row["phones"] == ["+44 20 7946 0018", "+44 20 7946 0019"]
    assert row["phones_typed"] == [
        {"value": "+44 20 7946 0018", "types": ["cell", "voice"], "pref": 1, "label": None},
        {"value": "+44 20 7946 0019", "types": ["work"], "pref": None, "label": "Reception"},
    ]
    assert row["emails_typed"] == [
        {"value": "ada@example.org", "types": ["work"], "pref": 1, "label": None}
    ]
    assert row["urls_typed"] == [
        {"value": "https://ada.example/", "types": [], "pref": None, "label": None}
    ]
    assert row["addresses_typed"] is None


async def test_a_type_change_rewrites_the_row(
    destination: PostgresDestination, postgres_server: PostgresServer, schema: str
) -> None:
    await destination.upsert([ADA])
    work = Typed("+44 20 7946 0018", ("work",), pref=1)
    moved = Record(ADA.contact_id, {**ADA.fields, F.PHONES: (work,)})

    assert await destination.upsert([moved]) == WriteResult(updated=1)

    [row] = run(postgres_server.dsn, sql.SQL("SELECT phones_typed FROM {}").format(table(schema)))
    assert row["phones_typed"] == [
        {"value": "+44 20 7946 0018", "types": ["work"], "pref": 1, "label": None}
    ]


async def test_a_table_made_before_types_gains_its_jsonb_columns_and_rows_are_refilled(
    destination: PostgresDestination, postgres_server: PostgresServer, schema: str
) -> None:
    dsn = postgres_server.dsn
    run(dsn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    run(dsn, sql.SQL(f"CREATE TABLE {{}} ({OLD_COLUMNS})").format(table(schema)))
    run(
        dsn,
        sql.SQL(
            "INSERT INTO {} (contact_id, full_name, phones, content_hash) "
            "VALUES ('c-ada', 'Ada Lovelace', '{{+44 20 7946 0018}}', 'written-before')"
        ).format(table(schema)),
    )

    result = await destination.upsert([ADA])

    assert result == WriteResult(updated=1)
    [row] = run(dsn, sql.SQL("SELECT * FROM {}").format(table(schema)))
    assert {"emails_typed", "phones_typed", "addresses_typed", "urls_typed"} <= row.keys()
    assert [p["types"] for p in row["phones_typed"]] == [["cell", "voice"], ["work"]]
    assert await destination.upsert([ADA]) == WriteResult(unchanged=1)


async def test_a_table_the_role_may_not_alter_reports_the_types_it_cannot_hold(
    destination: PostgresDestination, postgres_server: PostgresServer, schema: str
) -> None:
    admin = admin_dsn(postgres_server)
    # Made and owned by someone else; the sync's role may only read and write rows.
    run(admin, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    run(admin, sql.SQL(f"CREATE TABLE {{}} ({OLD_COLUMNS})").format(table(schema)))
    run(
        admin,
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
            sql.Identifier(schema), sql.Identifier(USER)
        ),
    )
    run(
        admin,
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
            table(schema), sql.Identifier(USER)
        ),
    )
    plain = Record("c-plain", {F.FULL_NAME: "Plain", F.PHONES: (Typed("+1 555"),)})

    result = await destination.upsert([ADA, plain])

    assert result.created == 2
    # Ada's phones and email have types the table cannot hold; bare values lose nothing.
    assert result.unsupported_fields == {"emails.types": 1, "phones.types": 1}
    rows = run(postgres_server.dsn, sql.SQL("SELECT * FROM {} ORDER BY 1").format(table(schema)))
    assert rows[0]["phones"] == ["+44 20 7946 0018", "+44 20 7946 0019"]
    assert "phones_typed" not in rows[0]
