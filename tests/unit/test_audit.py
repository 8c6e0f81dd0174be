"""The audit chain detects tampering, survives retention, and names people by pseudonym only.

``TestAuditChain`` also runs against PostgreSQL (tests/integration/test_store_postgres.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from contactsync_worker.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditChainBroken,
    AuditEvent,
    BreakReason,
    ChainHead,
    seal,
    verify_chain,
)
from contactsync_worker.pseudonym import Pseudonymizer, derive_key
from contactsync_worker.store import StateStore
from tests.unit.test_store_sqlite import SCOPE, FakeClock, StoreCase, StoreHarness

OTHER_SCOPE = "hr/directory/eu-central-1"


def events(count: int, action: str = AuditAction.CREATED) -> list[AuditEvent]:
    return [
        AuditEvent(action, subject=f"pseudonym-{n}", destination="phonebook", detail={"n": n})
        for n in range(count)
    ]


class TestAuditChain(StoreCase):
    async def test_appended_records_chain_and_verify(self, store: StateStore) -> None:
        first = await store.append_audit(SCOPE, events(2))
        second = await store.append_audit(SCOPE, events(3, AuditAction.UPDATED))

        result = await verify_chain(store, SCOPE)

        assert [r.seq for r in first + second] == [1, 2, 3, 4, 5]
        assert first[0].prev_hash == GENESIS_HASH
        assert all(
            b.prev_hash == a.hash
            for a, b in zip(first + second, (first + second)[1:], strict=False)
        )
        assert (result.ok, result.count, result.first_seq, result.last_seq) == (True, 5, 1, 5)
        assert await store.audit_records(SCOPE) == first + second
        assert await store.audit_head(SCOPE) == ChainHead(5, second[-1].hash)

    async def test_scopes_have_independent_chains(self, store: StateStore) -> None:
        await store.append_audit(SCOPE, events(2))
        (other,) = await store.append_audit(OTHER_SCOPE, events(1))

        assert (other.seq, other.prev_hash) == (1, GENESIS_HASH)
        assert (await verify_chain(store, OTHER_SCOPE)).count == 1

    async def test_an_empty_chain_verifies(self, store: StateStore) -> None:
        result = await verify_chain(store, SCOPE)
        assert (result.ok, result.count) == (True, 0)

    async def test_the_database_refuses_updates_to_records(
        self, store: StateStore, harness: StoreHarness
    ) -> None:
        await store.append_audit(SCOPE, events(1))
        with pytest.raises(Exception, match="append-only"):
            await harness.execute("UPDATE audit_log SET action = 'deleted'")

    @pytest.mark.parametrize(
        ("column", "value"),
        [("detail", '{"n": 99}'), ("subject", None), ("at", "2020-01-01"), ("hash", "f" * 64)],
    )
    async def test_a_tampered_record_is_reported_by_seq(
        self, store: StateStore, harness: StoreHarness, column: str, value: str | None
    ) -> None:
        await store.append_audit(SCOPE, events(5))
        await harness.allow_audit_updates()
        # Column names come from the parameter list above, not from outside the test.
        await harness.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = 3", (value,))  # noqa: S608

        result = await verify_chain(store, SCOPE)

        assert (result.ok, result.broken_seq, result.reason) == (
            False,
            3,
            BreakReason.HASH_MISMATCH,
        )
        assert result.count == 2
        assert "seq 3" in result.message

    async def test_a_resealed_record_breaks_the_next_link(
        self, store: StateStore, harness: StoreHarness
    ) -> None:
        records = await store.append_audit(SCOPE, events(5))
        forged = seal(SCOPE, [AuditEvent("deleted")], ChainHead(2, records[1].hash), records[2].at)
        await harness.allow_audit_updates()
        await harness.execute(
            """UPDATE audit_log SET action = 'deleted', subject = NULL, destination = NULL,
               detail = '{}', hash = ? WHERE seq = 3""",
            (forged[0].hash,),
        )

        result = await verify_chain(store, SCOPE)

        assert (result.broken_seq, result.reason) == (4, BreakReason.PREV_LINK_MISMATCH)

    async def test_a_deleted_middle_record_is_reported_as_a_gap(
        self, store: StateStore, harness: StoreHarness
    ) -> None:
        await store.append_audit(SCOPE, events(5))
        await harness.execute("DELETE FROM audit_log WHERE seq = 3")

        result = await verify_chain(store, SCOPE)

        assert (result.ok, result.broken_seq, result.reason) == (False, 3, BreakReason.GAP)

    async def test_deleted_newest_records_are_reported_as_truncation(
        self, store: StateStore, harness: StoreHarness
    ) -> None:
        await store.append_audit(SCOPE, events(5))
        await harness.execute("DELETE FROM audit_log WHERE seq >= 4")

        result = await verify_chain(store, SCOPE)

        assert (result.ok, result.broken_seq, result.reason) == (False, 4, BreakReason.TRUNCATED)

    async def test_purge_removes_old_records_and_the_chain_still_verifies(
        self, store: StateStore, clock: FakeClock
    ) -> None:
        await store.append_audit(SCOPE, events(3))
        clock.advance(timedelta(days=10))
        recent = await store.append_audit(SCOPE, events(2))
        clock.advance(timedelta(days=1))

        purged = await store.purge_audit(SCOPE, timedelta(days=5))
        again = await store.purge_audit(SCOPE, timedelta(days=5))
        result = await verify_chain(store, SCOPE)

        assert purged.purged == 3
        assert purged.anchor is not None
        assert (purged.anchor.seq, purged.anchor.records) == (3, 3)
        assert purged.record is not None
        assert purged.record.action == AuditAction.AUDIT_PURGED
        assert purged.record.detail == {
            "records": 3,
            "through_seq": 3,
            "anchor_hash": purged.anchor.hash,
        }
        assert again.purged == 0
        assert await store.audit_anchor(SCOPE) == purged.anchor
        assert [r.seq for r in await store.audit_records(SCOPE)] == [4, 5, 6]
        assert (await store.audit_records(SCOPE))[:2] == recent
        assert (result.ok, result.count, result.first_seq, result.last_seq) == (True, 3, 4, 6)

    async def test_purging_everything_leaves_a_verifiable_chain_that_continues(
        self, store: StateStore, clock: FakeClock
    ) -> None:
        await store.append_audit(SCOPE, events(2))
        clock.advance(timedelta(days=1))
        await store.purge_audit(SCOPE, timedelta(hours=1))
        clock.advance(timedelta(days=1))
        await store.purge_audit(SCOPE, timedelta(hours=1))  # now the first purge record goes
        await store.append_audit(SCOPE, events(1))

        result = await verify_chain(store, SCOPE)

        assert (result.ok, result.first_seq, result.last_seq) == (True, 4, 5)

    async def test_a_tampered_anchor_is_detected(
        self, store: StateStore, harness: StoreHarness, clock: FakeClock
    ) -> None:
        await store.append_audit(SCOPE, events(3))
        clock.advance(timedelta(days=1))
        await store.append_audit(SCOPE, events(1))
        await store.purge_audit(SCOPE, timedelta(hours=1))
        await harness.execute("UPDATE audit_anchors SET hash = ?", ("0" * 64,))

        result = await verify_chain(store, SCOPE)

        assert (result.broken_seq, result.reason) == (4, BreakReason.PREV_LINK_MISMATCH)

    async def test_purge_refuses_to_remove_a_broken_prefix(
        self, store: StateStore, harness: StoreHarness, clock: FakeClock
    ) -> None:
        await store.append_audit(SCOPE, events(3))
        clock.advance(timedelta(days=1))
        await harness.allow_audit_updates()
        await harness.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 2")

        with pytest.raises(AuditChainBroken, match="seq 2") as raised:
            await store.purge_audit(SCOPE, timedelta(hours=1))

        assert raised.value.result.reason == BreakReason.HASH_MISMATCH
        assert [r.seq for r in await store.audit_records(SCOPE)] == [1, 2, 3]
        assert await store.audit_anchor(SCOPE) is None

    async def test_concurrent_appends_from_several_connections_form_one_chain(
        self, harness: StoreHarness, clock: FakeClock
    ) -> None:
        stores = [await harness.open(clock) for _ in range(4)]

        async def append_many(store: StateStore, writer: int) -> None:
            for n in range(10):
                await store.append_audit(
                    SCOPE, [AuditEvent("updated", detail={"writer": writer, "n": n})] * 2
                )

        # Two tasks per store: concurrency within one connection and across connections.
        async with asyncio.TaskGroup() as group:
            for writer, store in enumerate(stores * 2):
                group.create_task(append_many(store, writer))
        result = await verify_chain(stores[0], SCOPE, page_size=7)

        assert (result.ok, result.count, result.last_seq) == (True, 160, 160)


def test_pseudonyms_are_stable_per_key_and_differ_across_keys() -> None:
    key_a, key_b = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)

    first = key_a.identity("email:erika@example.org")

    assert first == Pseudonymizer(b"a" * 32).identity("email:erika@example.org")
    assert len(first) == 64
    assert first != key_b.identity("email:erika@example.org")
    assert first != key_a.identity("email:max@example.org")
    assert key_a.fingerprint != key_b.fingerprint


def test_identity_and_subject_pseudonyms_never_collide() -> None:
    keys = Pseudonymizer(b"a" * 32)
    assert keys.identity("c-1") != keys.subject("c-1")


def test_a_pseudonymizer_never_shows_its_key() -> None:
    key = bytes(range(32))
    assert key.hex() not in repr(Pseudonymizer(key))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Pseudonymizer(b"short")


def test_derived_keys_are_per_region_and_reproducible() -> None:
    secret = b"s" * 32
    assert derive_key(secret, "eu-central-1") == derive_key(secret, "eu-central-1")
    assert derive_key(secret, "eu-central-1") != derive_key(secret, "us-east-1")
    assert len(derive_key(secret, "eu-central-1")) == 32


def test_the_record_hash_covers_every_field() -> None:
    at = datetime(2026, 5, 1, tzinfo=UTC)
    (base,) = seal(SCOPE, [AuditEvent("created", "s", "src", "dst", {"n": 1})], ChainHead(), at)
    variants = [
        AuditEvent("updated", "s", "src", "dst", {"n": 1}),
        AuditEvent("created", "t", "src", "dst", {"n": 1}),
        AuditEvent("created", "s", "other", "dst", {"n": 1}),
        AuditEvent("created", "s", "src", "other", {"n": 1}),
        AuditEvent("created", "s", "src", "dst", {"n": 2}),
    ]
    hashes = {seal(SCOPE, [v], ChainHead(), at)[0].hash for v in variants}
    hashes.add(
        seal(
            "other/scope/r", [AuditEvent("created", "s", "src", "dst", {"n": 1})], ChainHead(), at
        )[0].hash
    )
    hashes.add(
        seal(
            SCOPE,
            [AuditEvent("created", "s", "src", "dst", {"n": 1})],
            ChainHead(),
            at + timedelta(microseconds=1),
        )[0].hash
    )

    assert base.hash not in hashes
    assert len(hashes) == len(variants) + 2


def test_detail_refuses_values_without_a_canonical_form() -> None:
    with pytest.raises(TypeError, match="float"):
        AuditEvent("created", detail={"ratio": 0.5})  # type: ignore[dict-item]
