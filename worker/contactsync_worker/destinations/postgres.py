"""PostgreSQL destination: one row per contact, upserted by its stable id.

The table (created if missing) has ``contact_id`` as primary key, one column per canonical
field (``text``, or ``text[]`` for multi-valued fields; snake_case names such as
``full_name``), ``uid``, ``content_hash`` and ``updated_at``. A typed field (emails, phones,
addresses, urls) has a ``jsonb`` column beside its ``text[]`` one, ``phones_typed``: the
same values in the same order, each ``{"value", "types", "pref", "label"}``; the ``text[]``
column keeps its bare values, so queries written for it still work.

A row is rewritten only when its content hash changes, so an unchanged contact keeps its
``updated_at`` and costs no table churn. A deployment may create the table itself with fewer
columns: the adapter reads the real columns and reports fields it cannot hold as
unsupported, by name (``phones.types`` for the types of phones its table cannot hold). A
table that holds a typed field's ``text[]`` column but not its ``jsonb`` one (made before
values were typed) gets it added when first opened, where the role may alter the table.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from contactsync_api.egress import RegionEgress
from contactsync_api.endpoints.postgres import PostgresDestinationSpec
from contactsync_api.errors import (
    DESTINATION_ERRORS,
    ConfigurationError,
    DestinationAuthenticationRefused,
    DestinationUnavailable,
)
from contactsync_api.fields import ContactField
from contactsync_worker import credentials, endpoint_failures
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import MULTI_VALUED, FieldValue, canonical_value
from contactsync_worker.contacts.typed import TYPED_FIELDS, as_typed, texts
from contactsync_worker.destinations import (
    DestinationAdapter,
    Record,
    WriteResult,
    supported,
)
from contactsync_worker.transport import check_egress_postgres, postgres_conninfo

CONNECT_TIMEOUT_SECONDS = 10
_CHUNK = 500
_MAX_PARAMS = 30_000  # per statement: PostgreSQL takes at most 65535
_STATEMENTS_KEPT = 16
_TEXT_TYPES = frozenset({"text", "character varying", "character"})
_TEXT_ARRAYS = frozenset({"_text", "_varchar", "_bpchar"})
_JSON_TYPES = frozenset({"jsonb", "json"})


def column_name(field: ContactField) -> str:
    """The column a field is stored in: ``fullName`` → ``full_name``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field.value).lower()


COLUMNS: Mapping[ContactField, str] = {f: column_name(f) for f in ContactField}
TYPED_COLUMNS: Mapping[ContactField, str] = {f: f"{COLUMNS[f]}_typed" for f in TYPED_FIELDS}


class IncompatibleTable(RuntimeError):
    """The existing table lacks what every upsert needs (contact_id, content_hash)."""


@dataclass(frozen=True)
class _Layout:
    """What the actual table can hold."""

    fields: frozenset[ContactField]
    has_uid: bool
    has_updated_at: bool
    typed: frozenset[ContactField] = frozenset()  # typed fields whose jsonb column it has


class PostgresDestination(DestinationAdapter):
    """Writes merged contacts to ``schema.table``; the table belongs to one ContactSync."""

    def __init__(
        self,
        dsn: str | Callable[[], str],
        *,
        schema: str = "public",
        table: str = "contacts",
        connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
        egress: RegionEgress | None = None,
    ) -> None:
        self._dsn = dsn
        self._egress = egress
        self._where = f"{schema}.{table}"  # for messages: names only, never the DSN
        self._schema = schema
        self._table_name = table
        self._table = sql.Identifier(schema, table)
        self._connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[TupleRow] | None = None
        self._layout: _Layout | None = None
        self._statements: dict[tuple[_Layout, int], bytes] = {}
        self._lock = asyncio.Lock()

    @classmethod
    def from_spec(
        cls, name: str, spec: PostgresDestinationSpec, context: AdapterContext
    ) -> PostgresDestination:
        """The destination a region's configuration declares (the ``postgres`` kind); the
        connection string is read from its Secret for every connection (a rotated password
        is used by the next one) and held to TLS by ``postgres_conninfo``. Messages name the
        table, so ``name`` is not needed."""
        secrets_dir = context.secrets_dir

        def conninfo() -> str:
            ref = spec.dsn_secret_ref
            dsn = credentials.read_secret(ref.name, ref.key, secrets_dir=secrets_dir)
            bundle = credentials.ca_bundle_for(spec.ca_bundle_secret_ref, secrets_dir=secrets_dir)
            return postgres_conninfo(
                dsn.reveal(), allow_insecure=spec.allow_insecure, ca_bundle=bundle
            )

        return cls(conninfo, schema=spec.schema_name, table=spec.table, egress=context.egress)

    def __repr__(self) -> str:
        return f"PostgresDestination({self._where!r})"

    async def upsert(self, records: list[Record]) -> WriteResult:
        result = WriteResult()
        if not records:
            return result
        # One row per contact, the last one given: one statement may not update a row twice.
        records = list({r.contact_id: r for r in records}.values())
        async with self._session() as (conn, layout):
            rows, unsupported = _rows(records, layout)
            per_statement = max(1, _MAX_PARAMS // len(rows[0]))
            async with conn.transaction():
                # A page of rows in one statement: one row each costs a statement apiece.
                for start in range(0, len(rows), per_statement):
                    chunk = rows[start : start + per_statement]
                    statement = self._statement(conn, layout, len(chunk))
                    # PostgreSQL's own $1 placeholders: no "%s" for psycopg to find in a
                    # statement of thousands of them.
                    async with psycopg.AsyncRawCursor(conn) as cursor:
                        await cursor.execute(statement, [v for row in chunk for v in row])
                        inserted = [row[0] for row in await cursor.fetchall()]
                    # One row per inserted or changed contact; none when the hash matched.
                    result.created += sum(inserted)
                    result.updated += len(inserted) - sum(inserted)
        result.unchanged = len(rows) - result.created - result.updated
        result.unsupported_fields = dict(sorted(unsupported.items()))
        return result

    async def delete(self, contact_ids: list[str]) -> WriteResult:
        result = WriteResult()
        ids = sorted(set(contact_ids))
        if not ids:
            return result
        statement = sql.SQL("DELETE FROM {} WHERE contact_id = ANY(%s)").format(self._table)
        async with self._session() as (conn, _), conn.transaction():
            for start in range(0, len(ids), _CHUNK):
                cursor = await conn.execute(statement, (ids[start : start + _CHUNK],))
                result.deleted += cursor.rowcount
        return result

    async def count(self) -> int:
        async with self._session() as (conn, _):
            cursor = await conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table))
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[psycopg.AsyncConnection[TupleRow], _Layout]]:
        """The connection and table layout; connection trouble becomes DestinationUnavailable.

        One session at a time: calls share one connection, and their transactions must
        not interleave on it.
        """
        async with self._lock:
            try:
                yield await self._open()
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                raise self._unavailable(exc) from exc
            except psycopg.errors.InsufficientPrivilege as exc:
                raise DestinationAuthenticationRefused(
                    f"PostgreSQL destination {self._where}: the role may not do this "
                    f"({type(exc).__name__})"
                ) from exc

    async def _open(self) -> tuple[psycopg.AsyncConnection[TupleRow], _Layout]:
        if self._conn is None or self._conn.closed:
            self._layout = None
            self._conn = await self._connect()
        if self._layout is None:
            self._layout = await self._ensure_table(self._conn)
        return self._conn, self._layout

    async def _connect(self) -> psycopg.AsyncConnection[TupleRow]:
        try:
            dsn = self._dsn() if callable(self._dsn) else self._dsn
        except ConfigurationError as exc:  # a Secret key missing, a DSN without TLS
            raise type(exc)(f"PostgreSQL destination {self._where}: {exc}") from exc
        await check_egress_postgres(dsn, self._egress)
        try:
            return await psycopg.AsyncConnection.connect(
                dsn, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.OperationalError as exc:
            failure, why = endpoint_failures.postgres_connect(DESTINATION_ERRORS, str(exc))
            # The cause keeps psycopg's detail; this message names only the table.
            raise failure(f"PostgreSQL destination {self._where}: cannot connect: {why}") from exc

    def _unavailable(self, exc: Exception) -> DestinationUnavailable:
        conn = self._conn
        if conn is not None and (conn.closed or conn.broken):
            self._conn = None
        # The cause keeps psycopg's detail; this message names only the table.
        return DestinationUnavailable(
            f"PostgreSQL destination {self._where} is unavailable ({type(exc).__name__})"
        )

    async def _ensure_table(self, conn: psycopg.AsyncConnection[TupleRow]) -> _Layout:
        columns = [
            sql.SQL("contact_id text PRIMARY KEY"),
            sql.SQL("uid text"),
            *(
                sql.SQL("{} {}").format(
                    sql.Identifier(COLUMNS[f]), sql.SQL("text[]" if f in MULTI_VALUED else "text")
                )
                for f in ContactField
            ),
            *(sql.SQL("{} jsonb").format(sql.Identifier(TYPED_COLUMNS[f])) for f in _typed_order()),
            sql.SQL("content_hash text NOT NULL"),
            sql.SQL("updated_at timestamptz NOT NULL DEFAULT now()"),
        ]
        async with conn.transaction():
            # Workers of one region may start together; without the lock both CREATEs race.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._where,))
            found = await conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)
            )
            if await found.fetchone() is None:
                await conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self._schema)))
            await conn.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    self._table, sql.SQL(", ").join(columns)
                )
            )
            actual = await self._columns(conn)
            if await self._add_typed_columns(conn, actual):
                actual = await self._columns(conn)
        return _layout(actual, self._where)

    async def _columns(self, conn: psycopg.AsyncConnection[TupleRow]) -> dict[str, tuple[str, str]]:
        cursor = await conn.execute(
            """SELECT column_name, data_type, udt_name FROM information_schema.columns
               WHERE table_schema = %s AND table_name = %s""",
            (self._schema, self._table_name),
        )
        return {str(name): (str(dtype), str(udt)) for name, dtype, udt in await cursor.fetchall()}

    async def _add_typed_columns(
        self, conn: psycopg.AsyncConnection[TupleRow], actual: Mapping[str, tuple[str, str]]
    ) -> bool:
        """Give a table made before values were typed the jsonb column of each typed field
        it holds. A role that may not alter the table keeps it as it is: the types are then
        reported as unsupported, as any field the table cannot hold."""
        missing = [
            f
            for f in _typed_order()
            if actual.get(COLUMNS[f], ("", ""))[1] in _TEXT_ARRAYS
            and TYPED_COLUMNS[f] not in actual
        ]
        added = False
        for field in missing:
            try:
                async with conn.transaction():  # a savepoint: a refusal spoils nothing else
                    await conn.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} jsonb").format(
                            self._table, sql.Identifier(TYPED_COLUMNS[field])
                        )
                    )
            except psycopg.errors.InsufficientPrivilege:
                break
            added = True
        return added

    def _statement(
        self, conn: psycopg.AsyncConnection[TupleRow], layout: _Layout, rows: int
    ) -> bytes:
        """The upsert of ``rows`` rows, spelled once per table layout and row count (pages
        are mostly of one size, and spelling thousands of placeholders takes a while)."""
        key = (layout, rows)
        if key not in self._statements:
            if len(self._statements) >= _STATEMENTS_KEPT:
                self._statements.clear()
            self._statements[key] = self._upsert_statement(layout, rows).as_bytes(conn)
        return self._statements[key]

    def _upsert_statement(self, layout: _Layout, rows: int) -> sql.Composed:
        names = ["contact_id", *(["uid"] if layout.has_uid else [])]
        names += [COLUMNS[f] for f in _ordered(layout.fields)]
        names += [TYPED_COLUMNS[f] for f in _typed_order() if f in layout.typed]
        names.append("content_hash")
        updates = [n for n in names if n != "contact_id"]
        stamp = ["updated_at"] if layout.has_updated_at else []
        width = len(names)
        spelled = [
            sql.SQL("({})").format(
                sql.SQL(", ").join(
                    [sql.SQL(f"${r * width + k}") for k in range(1, width + 1)]
                    + [sql.SQL("now()")] * len(stamp)
                )
            )
            for r in range(rows)
        ]
        return sql.SQL(
            "INSERT INTO {table} AS t ({columns}) VALUES {rows} "
            "ON CONFLICT (contact_id) DO UPDATE SET {updates} "
            "WHERE t.content_hash IS DISTINCT FROM excluded.content_hash "
            # xmax is 0 on a freshly inserted row version and set on an updated one.
            "RETURNING (xmax = 0)"
        ).format(
            table=self._table,
            columns=sql.SQL(", ").join(map(sql.Identifier, [*names, *stamp])),
            rows=sql.SQL(", ").join(spelled),
            updates=sql.SQL(", ").join(
                [sql.SQL("{0} = excluded.{0}").format(sql.Identifier(n)) for n in updates]
                + [sql.SQL("{} = now()").format(sql.Identifier(n)) for n in stamp]
            ),
        )


def _layout(actual: Mapping[str, tuple[str, str]], where: str) -> _Layout:
    for required in ("contact_id", "content_hash"):
        if required not in actual:
            raise IncompatibleTable(f"table {where} has no {required} column")

    def holds_text(column: str, multi: bool) -> bool:
        if column not in actual:
            return False
        data_type, udt = actual[column]
        return udt in _TEXT_ARRAYS if multi else data_type in _TEXT_TYPES

    fields = frozenset(f for f in ContactField if holds_text(COLUMNS[f], f in MULTI_VALUED))
    return _Layout(
        fields=fields,
        has_uid=holds_text("uid", multi=False),
        has_updated_at="updated_at" in actual,
        typed=frozenset(
            f
            for f in fields & TYPED_FIELDS
            if actual.get(TYPED_COLUMNS[f], ("", ""))[1] in _JSON_TYPES
        ),
    )


def _ordered(fields: frozenset[ContactField]) -> list[ContactField]:
    return [f for f in ContactField if f in fields]


def _typed_order() -> list[ContactField]:
    return _ordered(TYPED_FIELDS)


def _rows(records: list[Record], layout: _Layout) -> tuple[list[tuple[object, ...]], Counter[str]]:
    rows: list[tuple[object, ...]] = []
    unsupported: Counter[str] = Counter()
    for record in records:
        kept, missing = supported(record.fields, layout.fields)
        unsupported.update(missing)
        unsupported.update(
            f"{f}.types"
            for f in kept.keys() & (TYPED_FIELDS - layout.typed)
            if any(t.types or t.pref or t.label for t in as_typed(kept[f]))
        )
        uid = record.uid if layout.has_uid else None
        if record.uid is not None and not layout.has_uid:
            unsupported["uid"] += 1
        values = [_column_value(record.contact_id, f, kept.get(f)) for f in _ordered(layout.fields)]
        values += [_typed_value(kept.get(f)) for f in _typed_order() if f in layout.typed]
        head: list[object] = [record.contact_id, *([uid] if layout.has_uid else [])]
        rows.append((*head, *values, content_hash(kept, uid, layout.typed)))
    return rows, unsupported


def _column_value(contact_id: str, field: ContactField, value: FieldValue | None) -> object:
    if value is None:
        return None
    if field in MULTI_VALUED:
        return list(texts(value))
    if isinstance(value, str):
        return value
    # Which record and field, never the values: the error may reach logs.
    raise ValueError(
        f"contact {contact_id}: field {field} holds several values where the model allows one"
    )


def _typed_value(value: FieldValue | None) -> Jsonb | None:
    return None if value is None else Jsonb([typed.as_json() for typed in as_typed(value)])


def content_hash(
    fields: Mapping[ContactField, FieldValue],
    uid: str | None,
    typed: frozenset[ContactField] = frozenset(),
) -> str:
    """Hash of what the row holds (types only of the ``typed`` fields, whose jsonb columns
    it has); a column added later changes it, so rows get refilled."""

    def held(field: ContactField, value: FieldValue) -> object:
        if field in typed:
            return canonical_value(field, value)
        return list(texts(value)) if isinstance(value, tuple) else value

    canonical = json.dumps(
        {
            "fields": {str(k): held(k, v) for k, v in fields.items()},
            "uid": uid,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()
