"""PostgreSQL is real: password login over TCP, a table round trip, a wrong password refused."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.servers.postgres import PostgresServer

pytestmark = pytest.mark.postgres


def test_a_row_written_over_tcp_reads_back_unchanged(postgres_server: PostgresServer) -> None:
    # The database lives for the whole session, so each run gets its own table.
    table = sql.Identifier(f"contacts_{uuid.uuid4().hex[:8]}")
    create = sql.SQL("CREATE TABLE {} (id serial PRIMARY KEY, name text NOT NULL, mail text)")
    with psycopg.connect(postgres_server.dsn) as conn:
        conn.execute(create.format(table))
        conn.execute(
            sql.SQL("INSERT INTO {} (name, mail) VALUES (%s, %s)").format(table),
            ("Zoë Ünicode", "zoe@example.test"),
        )
    # Leaving the block committed; a fresh connection proves the row was stored.

    with psycopg.connect(postgres_server.dsn) as conn:
        rows = conn.execute(sql.SQL("SELECT name, mail FROM {}").format(table)).fetchall()
        server_addr = conn.execute("SELECT inet_server_addr()::text").fetchone()

    assert rows == [("Zoë Ünicode", "zoe@example.test")]
    assert server_addr == ("127.0.0.1/32",)


def test_a_wrong_password_is_refused(postgres_server: PostgresServer) -> None:
    wrong = make_conninfo(postgres_server.dsn, password="not-the-password")

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong)
