"""Signed audit checkpoints catch what the chain alone cannot: someone with write access to the
state store who rewrites a record and hashes it again, or wipes the chain. Real worker,
Temporal and Radicale; the store is the worker's own SQLite file, edited as an intruder would."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from contactsync_worker.audit import GENESIS_HASH
from contactsync_worker.commands import SignedCheckpoint, region_checkpoint_key, verify_sqlite
from contactsync_worker.main import state_file
from contactsync_worker.store.sqlite import SqliteStore
from tests.carddav_sync import VCARD, carddav_region, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
SCOPE = "tests/phonebook/local"


@pytest.fixture
async def synced(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> tuple[Path, SignedCheckpoint]:
    """Three contacts synced; the state file and the checkpoint the run published."""
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (files, source, _):
        for n in range(3):
            card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org")
            response = await dav.put(f"{source}c{n}.vcf", content=card, headers=VCARD)
            assert response.status_code == 201
        summary = await sync(files)
        assert summary.created == 3
        key = region_checkpoint_key(files.keys_dir, "local")
    assert summary.audit_checkpoint.startswith("v1.")
    return state_file(tmp_path / "state"), SignedCheckpoint(summary.audit_checkpoint, key)


def intruder(path: Path) -> sqlite3.Connection:
    """Write access to the store, and the will to drop its append-only trigger."""
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER audit_log_append_only")
    return db


async def test_the_published_checkpoint_verifies_against_the_untouched_chain(
    synced: tuple[Path, SignedCheckpoint],
) -> None:
    state, checkpoint = synced
    ok, words = await verify_sqlite(state, SCOPE, checkpoint)
    assert ok, words
    forged = SignedCheckpoint(
        checkpoint.token[:-1] + ("0" if checkpoint.token[-1] != "0" else "1"), checkpoint.key
    )
    ok, words = await verify_sqlite(state, SCOPE, forged)
    assert not ok
    assert "signature" in words


async def test_a_rewritten_and_rehashed_record_is_caught_by_the_checkpoint(
    synced: tuple[Path, SignedCheckpoint],
) -> None:
    state, checkpoint = synced
    store = await SqliteStore.open(state)
    try:
        records = await store.audit_records(SCOPE)
    finally:
        await store.aclose()
    last = records[-1]
    edited = dataclasses.replace(last, detail={**last.detail, "rewritten": True}, hash="")
    rehashed = edited.computed_hash()
    with intruder(state) as db:
        db.execute(
            "UPDATE audit_log SET detail = ?, hash = ? WHERE scope = ? AND seq = ?",
            (json.dumps(dict(edited.detail)), rehashed, SCOPE, last.seq),
        )
        db.execute("UPDATE audit_head SET hash = ? WHERE scope = ?", (rehashed, SCOPE))
    ok, words = await verify_sqlite(state, SCOPE)
    assert ok, "the chain alone is fooled: that is why checkpoints exist"
    ok, words = await verify_sqlite(state, SCOPE, checkpoint)
    assert not ok
    assert "rewritten" in words


async def test_a_wiped_chain_is_caught_by_the_checkpoint(
    synced: tuple[Path, SignedCheckpoint],
) -> None:
    state, checkpoint = synced
    with intruder(state) as db:
        db.execute("DELETE FROM audit_log WHERE scope = ?", (SCOPE,))
        db.execute("UPDATE audit_head SET seq = 0, hash = ? WHERE scope = ?", (GENESIS_HASH, SCOPE))
    ok, words = await verify_sqlite(state, SCOPE)
    assert ok, "the chain alone reads as intact with 0 records"
    ok, words = await verify_sqlite(state, SCOPE, checkpoint)
    assert not ok
    assert "deleted" in words
