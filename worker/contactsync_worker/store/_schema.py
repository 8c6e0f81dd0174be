"""The store's tables, created and migrated on first use.

``schema_migrations`` lists the versions applied. Migrations only ever append to
:data:`MIGRATIONS`; each runs once, inside the opening transaction, which the backend
serializes (SQLite's write lock, a PostgreSQL advisory lock), so workers starting together
do not race. A database migrated by a newer worker is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from contactsync_worker.store import PENDING_HASH, StoreSchemaTooNew
from contactsync_worker.store._sql import Tx


@dataclass(frozen=True)
class Dialect:
    name: str
    timestamp: str  # column type of a point in time
    # Statements that make audit_log refuse UPDATE: append-only unless someone with DDL
    # rights drops the trigger, which verification then catches anyway.
    append_only: tuple[str, ...]


SQLITE = Dialect(
    name="sqlite",
    timestamp="TEXT",
    append_only=(
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
           BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    ),
)

POSTGRES = Dialect(
    name="postgres",
    timestamp="timestamptz",
    append_only=(
        """CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$""",
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()""",
    ),
)


def _v1(d: Dialect) -> list[str]:
    ts = d.timestamp
    return [
        """CREATE TABLE scope_meta (
             scope TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
             PRIMARY KEY (scope, name))""",
        f"""CREATE TABLE checkpoints (
             scope TEXT NOT NULL, source TEXT NOT NULL, checkpoint TEXT NOT NULL,
             committed_at {ts} NOT NULL,
             PRIMARY KEY (scope, source))""",
        f"""CREATE TABLE items (
             scope TEXT NOT NULL, source TEXT NOT NULL, item_id TEXT NOT NULL,
             contact_id TEXT NOT NULL, content_hash TEXT NOT NULL,
             last_seen_run TEXT, removed_at {ts},
             PRIMARY KEY (scope, source, item_id))""",
        "CREATE INDEX items_by_contact ON items (scope, contact_id)",
        """CREATE INDEX items_removed ON items (scope, removed_at)
             WHERE removed_at IS NOT NULL""",
        """CREATE TABLE identities (
             scope TEXT NOT NULL, pseudonym TEXT NOT NULL, contact_id TEXT NOT NULL,
             PRIMARY KEY (scope, pseudonym))""",
        "CREATE INDEX identities_by_contact ON identities (scope, contact_id)",
        f"""CREATE TABLE written (
             scope TEXT NOT NULL, destination TEXT NOT NULL, contact_id TEXT NOT NULL,
             content_hash TEXT NOT NULL, written_at {ts} NOT NULL,
             PRIMARY KEY (scope, destination, contact_id))""",
        "CREATE INDEX written_by_contact ON written (scope, contact_id)",
        f"""CREATE TABLE audit_log (
             scope TEXT NOT NULL, seq BIGINT NOT NULL, at {ts} NOT NULL,
             action TEXT NOT NULL, subject TEXT, source TEXT, destination TEXT,
             detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL,
             PRIMARY KEY (scope, seq))""",
        "CREATE INDEX audit_log_at ON audit_log (scope, at)",
        # One row per scope: the lock appenders serialize on, and the tail that
        # verification checks so deleting the newest records does not go unnoticed.
        """CREATE TABLE audit_head (
             scope TEXT PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL)""",
        f"""CREATE TABLE audit_anchors (
             scope TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL,
             purged_at {ts} NOT NULL, records BIGINT NOT NULL,
             PRIMARY KEY (scope, seq))""",
        *d.append_only,
    ]


def _v2(d: Dialect) -> list[str]:
    return [
        # Every identity value each item carries, under every key: an erasure finds a person
        # by any of them, whatever spec.identity merges on.
        """CREATE TABLE item_identities (
             scope TEXT NOT NULL, source TEXT NOT NULL, item_id TEXT NOT NULL,
             pseudonym TEXT NOT NULL, kind TEXT NOT NULL,
             PRIMARY KEY (scope, source, item_id, pseudonym))""",
        "CREATE INDEX item_identities_by_pseudonym ON item_identities (scope, pseudonym)",
        f"""CREATE TABLE suppressions (
             scope TEXT NOT NULL, pseudonym TEXT NOT NULL, kind TEXT NOT NULL,
             erasure TEXT NOT NULL, pseudonym_key TEXT NOT NULL,
             suppressed_at {d.timestamp} NOT NULL,
             PRIMARY KEY (scope, pseudonym))""",
        "CREATE INDEX suppressions_by_erasure ON suppressions (scope, erasure)",
        # Items synced before have nothing in item_identities: the next sync reads every
        # source whole (as after a pseudonym-key rotation) and indexes them. Nothing is
        # rewritten downstream: the destinations' hashes still match.
        "DELETE FROM checkpoints",
        f"UPDATE items SET content_hash = '{PENDING_HASH}'",  # noqa: S608 - a constant
    ]


MIGRATIONS: tuple[tuple[int, Callable[[Dialect], list[str]]], ...] = ((1, _v1), (2, _v2))
LATEST = MIGRATIONS[-1][0]


async def migrate(tx: Tx, dialect: Dialect, now: datetime) -> list[int]:
    """Apply the migrations ``tx``'s database lacks; returns the versions applied."""
    await tx.execute(
        f"""CREATE TABLE IF NOT EXISTS schema_migrations (
              version INTEGER PRIMARY KEY, applied_at {dialect.timestamp} NOT NULL)"""
    )
    applied = {row[0] for row in await tx.fetchall("SELECT version FROM schema_migrations")}
    if applied and max(applied) > LATEST:
        raise StoreSchemaTooNew(
            f"the state store is at schema version {max(applied)}; this worker knows up to "
            f"{LATEST}: upgrade the worker"
        )
    done: list[int] = []
    for version, statements in MIGRATIONS:
        if version in applied:
            continue
        for statement in statements(dialect):
            await tx.execute(statement)
        await tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", (version, now)
        )
        done.append(version)
    return done
