"""A dry run's throwaway state: one scope's rows copied from a real SQLite store that is only
read, into a new file that behaves as the real store would."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contactsync_api.errors import StoreUnavailable
from contactsync_worker.audit import AuditEvent
from contactsync_worker.store import PENDING_HASH, ItemWrite, Suppression, _schema
from contactsync_worker.store.copy import SqliteReader, copy_scope
from contactsync_worker.store.sqlite import SqliteStore

SCOPE = "sales/crm-to-phonebook/eu-central-1"
OTHER = "sales/crm-to-phonebook/us-east-1"


def digests(path: Path) -> dict[str, str]:
    """The state file and its write-ahead log as they are on disk."""
    files = [path, path.with_name(f"{path.name}-wal")]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.exists()}


async def fill(store: SqliteStore, scope: str, tag: str) -> None:
    await store.check_pseudonym_key(scope, "key-1")
    await store.upsert_items(scope, "crm", [ItemWrite(f"{tag}-item", f"{tag}-contact", "h1")], "r1")
    await store.bind_identities(scope, {f"{tag}-pseudonym": f"{tag}-contact"})
    await store.record_written(scope, "phonebook", {f"{tag}-contact": "w1"})
    await store.commit_checkpoint(scope, "crm", f"{tag}-token")
    await store.suppress(scope, [Suppression(f"{tag}-erased", "email", "erasure-1", "key-1")])
    await store.append_audit(scope, [AuditEvent("created", subject=f"{tag}-subject")] * 3)


async def test_the_copy_holds_the_scope_as_the_store_has_it_and_the_store_is_only_read(
    tmp_path: Path,
) -> None:
    real_path = tmp_path / "state.sqlite"
    real = await SqliteStore.open(real_path)
    await fill(real, SCOPE, "a")
    await fill(real, OTHER, "b")
    before = digests(real_path)

    async with SqliteReader.open(real_path) as reader:
        copy = await copy_scope(reader, SCOPE, tmp_path / "copy.sqlite")
    try:
        assert digests(real_path) == before
        items = await copy.get_items(SCOPE, "crm", ["a-item"])
        assert (items["a-item"].contact_id, items["a-item"].content_hash) == ("a-contact", "h1")
        assert await copy.lookup_identities(SCOPE, ["a-pseudonym"]) == {"a-pseudonym": "a-contact"}
        assert await copy.written_hashes(SCOPE, "phonebook", ["a-contact"]) == {"a-contact": "w1"}
        assert await copy.get_checkpoint(SCOPE, "crm") == "a-token"
        assert await copy.suppressions(SCOPE, ["a-erased"])
        assert await copy.audit_head(SCOPE) == await real.audit_head(SCOPE)
        assert await copy.get_items(OTHER, "crm", ["b-item"]) == {}, "only the scope is copied"
        assert await copy.audit_head(OTHER) != await real.audit_head(OTHER)

        # Writing to the copy continues its chain and leaves the real store as it was.
        (record,) = await copy.append_audit(SCOPE, [AuditEvent("deleted", subject="a-subject")])
        assert record.prev_hash == (await real.audit_head(SCOPE)).hash
        await copy.commit_checkpoint(SCOPE, "crm", "later-token")
        await copy.forget_items(SCOPE, "crm", ["a-item"])
        assert await real.get_checkpoint(SCOPE, "crm") == "a-token"
        assert await real.get_items(SCOPE, "crm", ["a-item"])
    finally:
        await copy.aclose()
        await real.aclose()


async def test_a_store_at_an_older_schema_is_copied_at_it_and_the_copy_migrated(
    tmp_path: Path,
) -> None:
    real_path = tmp_path / "state.sqlite"
    conn = sqlite3.connect(real_path, isolation_level=None)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    for statement in _schema.MIGRATIONS[0][1](_schema.SQLITE):
        conn.execute(statement)
    now = datetime.now(UTC).isoformat()
    conn.execute("INSERT INTO schema_migrations VALUES (1, ?)", (now,))
    conn.execute("INSERT INTO items VALUES (?, 'crm', 'i1', 'c1', 'h1', 'r1', NULL)", (SCOPE,))
    conn.execute("INSERT INTO checkpoints VALUES (?, 'crm', 'token', ?)", (SCOPE, now))
    conn.close()
    before = digests(real_path)

    async with SqliteReader.open(real_path) as reader:
        assert await reader.version() == 1
        copy = await copy_scope(reader, SCOPE, tmp_path / "copy.sqlite")
    try:
        # What migration 2 does to a store, the copy has had done: read every source whole.
        assert await copy.get_checkpoint(SCOPE, "crm") is None
        items = await copy.get_items(SCOPE, "crm", ["i1"])
        assert items["i1"].content_hash == PENDING_HASH
    finally:
        await copy.aclose()
    assert digests(real_path) == before
    check = sqlite3.connect(real_path)
    assert check.execute("SELECT max(version) FROM schema_migrations").fetchone() == (1,)
    check.close()


async def test_a_file_without_a_schema_gives_an_empty_copy_and_a_copy_never_overwrites(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    async with SqliteReader.open(empty) as reader:
        assert await reader.version() is None
        copy = await copy_scope(reader, SCOPE, tmp_path / "copy.sqlite")
        await copy.aclose()
        with pytest.raises(FileExistsError):
            await copy_scope(reader, SCOPE, tmp_path / "copy.sqlite")


async def test_a_state_file_that_cannot_be_read_is_a_store_error_naming_it(
    tmp_path: Path,
) -> None:
    garbage = tmp_path / "state.sqlite"
    garbage.write_bytes(b"not a database, but long enough to look like a header" * 20)
    unreadable = r"cannot read the SQLite state store .*state\.sqlite"
    with pytest.raises(StoreUnavailable, match=unreadable):
        async with SqliteReader.open(garbage) as reader:
            await reader.version()
    assert garbage.read_bytes().startswith(b"not a database")
