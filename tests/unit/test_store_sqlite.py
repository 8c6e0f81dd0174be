"""The state store keeps sync state per scope, without contact content, on SQLite.

The test bodies are shared: ``tests/integration/test_store_postgres.py`` runs the same
classes against PostgreSQL by overriding the ``harness`` fixture, so both stores are held
to one behaviour.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pytest

from contactsync_worker.audit import AuditEvent, verify_chain
from contactsync_worker.pseudonym import Pseudonymizer
from contactsync_worker.store import (
    PENDING_HASH,
    ItemKey,
    ItemWrite,
    PseudonymKeyMismatch,
    StateStore,
    Suppression,
    WrittenRef,
    _schema,
    _sql,
)
from contactsync_worker.store.sqlite import SqliteStore

SCOPE = "sales/crm-to-phonebook/eu-central-1"
OTHER_SCOPE = "sales/crm-to-phonebook/us-east-1"


class FakeClock:
    """A clock the test moves by hand, so grace periods and retention are exact."""

    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class StoreHarness(Protocol):
    """Opens stores on one test database and reaches under them to tamper."""

    async def open(self, clock: FakeClock) -> StateStore: ...

    async def execute(self, statement: str, params: Sequence[str | None] = ()) -> None:
        """Run raw SQL (``?`` placeholders) as the database owner: an attacker, for audit tests."""
        ...

    async def rows(self, query: str) -> list[tuple[object, ...]]:
        """Read raw rows, to check what the database itself holds."""
        ...

    async def allow_audit_updates(self) -> None:
        """Drop the append-only trigger, as an attacker with DDL rights could."""
        ...


class SqliteHarness:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.opened: list[SqliteStore] = []

    async def open(self, clock: FakeClock) -> StateStore:
        store = await SqliteStore.open(self.path, clock=clock)
        self.opened.append(store)
        return store

    async def execute(self, statement: str, params: Sequence[str | None] = ()) -> None:
        await self.rows(statement, params)

    async def rows(self, query: str, params: Sequence[str | None] = ()) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    async def allow_audit_updates(self) -> None:
        await self.execute("DROP TRIGGER audit_log_append_only")

    async def close(self) -> None:
        for store in self.opened:
            await store.aclose()


class StoreCase:
    """Fixtures every store test uses; subclasses pick the database via ``harness``."""

    @pytest.fixture
    async def harness(self, tmp_path: Path) -> AsyncIterator[StoreHarness]:
        harness = SqliteHarness(tmp_path / "state.db")
        yield harness
        await harness.close()

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    async def store(self, harness: StoreHarness, clock: FakeClock) -> StateStore:
        return await harness.open(clock)


def writes(*triples: tuple[str, str, str]) -> list[ItemWrite]:
    return [ItemWrite(item_id, contact_id, digest) for item_id, contact_id, digest in triples]


class TestStateStore(StoreCase):
    async def test_checkpoint_round_trips_per_source_and_scope(self, store: StateStore) -> None:
        assert await store.get_checkpoint(SCOPE, "hr") is None

        await store.commit_checkpoint(SCOPE, "hr", "token-1")
        await store.commit_checkpoint(SCOPE, "hr", "token-2")
        await store.commit_checkpoint(SCOPE, "sales", "s-1")

        assert await store.get_checkpoint(SCOPE, "hr") == "token-2"
        assert await store.get_checkpoint(SCOPE, "sales") == "s-1"
        assert await store.get_checkpoint(OTHER_SCOPE, "hr") is None

    async def test_clearing_a_checkpoint_forces_a_full_read(self, store: StateStore) -> None:
        await store.commit_checkpoint(SCOPE, "hr", "token-1")
        await store.commit_checkpoint(SCOPE, "hr", None)
        assert await store.get_checkpoint(SCOPE, "hr") is None

    async def test_items_round_trip_and_upsert_overwrites(self, store: StateStore) -> None:
        await store.upsert_items(SCOPE, "hr", writes(("a", "c1", "h1"), ("b", "c2", "h2")), "r1")
        await store.upsert_items(SCOPE, "hr", writes(("b", "c2", "h2-new")), "r2")

        items = await store.get_items(SCOPE, "hr", ["a", "b", "missing"])

        assert sorted(items) == ["a", "b"]
        assert (items["a"].contact_id, items["a"].content_hash) == ("c1", "h1")
        assert (items["b"].content_hash, items["b"].last_seen_run) == ("h2-new", "r2")
        assert items["a"].removed_at is None
        assert await store.get_items(SCOPE, "sales", ["a"]) == {}

    async def test_a_page_larger_than_one_in_list_round_trips(self, store: StateStore) -> None:
        ids = [f"item-{n:05d}" for n in range(1234)]
        await store.upsert_items(SCOPE, "hr", [ItemWrite(i, f"c-{i}", "h") for i in ids], "r1")

        assert len(await store.get_items(SCOPE, "hr", ids)) == 1234
        assert await store.mark_seen(SCOPE, "hr", ids, "r2") == 1234
        assert await store.forget_items(SCOPE, "hr", ids) == 1234

    async def test_unseen_lists_only_items_the_run_missed(self, store: StateStore) -> None:
        await store.upsert_items(
            SCOPE, "hr", writes(("a", "c1", "h"), ("b", "c2", "h"), ("c", "c3", "h")), "r1"
        )
        await store.upsert_items(SCOPE, "hr", writes(("d", "c4", "h")), "r2")
        await store.mark_seen(SCOPE, "hr", ["a"], "r2")

        unseen = await store.unseen_items(SCOPE, "hr", "r2")

        assert [i.item_id for i in unseen] == ["b", "c"]
        assert await store.unseen_items(SCOPE, "other-source", "r2") == []

    async def test_unseen_pages_by_item_id(self, store: StateStore) -> None:
        ids = [f"i{n}" for n in range(5)]
        await store.upsert_items(SCOPE, "hr", [ItemWrite(i, i, "h") for i in ids], "r1")

        first = await store.unseen_items(SCOPE, "hr", "r2", limit=2)
        rest = await store.unseen_items(SCOPE, "hr", "r2", after=first[-1].item_id, limit=10)

        assert [i.item_id for i in first + rest] == ids

    async def test_removed_items_wait_out_the_grace_period(
        self, store: StateStore, clock: FakeClock
    ) -> None:
        await store.upsert_items(SCOPE, "hr", writes(("a", "c1", "h"), ("b", "c2", "h")), "r1")
        assert await store.mark_removed(SCOPE, "hr", ["a"]) == 1
        clock.advance(timedelta(days=2))
        # Marking again must not restart the grace period.
        assert await store.mark_removed(SCOPE, "hr", ["a", "b"]) == 1

        removed = await store.removed_items(SCOPE, timedelta(days=1))

        assert [i.item_id for i in removed] == ["a"]
        assert removed[0].removed_at == clock.now - timedelta(days=2)
        assert [i.item_id for i in await store.removed_items(SCOPE, timedelta(0))] == ["a", "b"]
        assert await store.unseen_items(SCOPE, "hr", "r2") == []

    async def test_removed_items_filter_by_source_and_page(self, store: StateStore) -> None:
        for source in ("hr", "sales"):
            await store.upsert_items(
                SCOPE, source, writes(("a", "c1", "h"), ("b", "c2", "h")), "r1"
            )
            await store.mark_removed(SCOPE, source, ["a", "b"])

        first = await store.removed_items(SCOPE, timedelta(0), limit=3)
        after = ItemKey(first[-1].source, first[-1].item_id)
        rest = await store.removed_items(SCOPE, timedelta(0), after=after)
        only_sales = await store.removed_items(SCOPE, timedelta(0), source="sales")

        assert [(i.source, i.item_id) for i in first + rest] == [
            ("hr", "a"),
            ("hr", "b"),
            ("sales", "a"),
            ("sales", "b"),
        ]
        assert {i.source for i in only_sales} == {"sales"}

    async def test_an_item_seen_again_is_no_longer_removed(self, store: StateStore) -> None:
        await store.upsert_items(SCOPE, "hr", writes(("a", "c1", "h"), ("b", "c2", "h")), "r1")
        await store.mark_removed(SCOPE, "hr", ["a", "b"])

        await store.mark_seen(SCOPE, "hr", ["a"], "r2")
        await store.upsert_items(SCOPE, "hr", writes(("b", "c2", "h2")), "r2")

        assert await store.removed_items(SCOPE, timedelta(0)) == []

    async def test_forget_items_and_contributors(self, store: StateStore) -> None:
        await store.upsert_items(SCOPE, "hr", writes(("a", "c1", "h"), ("b", "c2", "h")), "r1")
        await store.upsert_items(SCOPE, "sales", writes(("x", "c1", "h")), "r1")
        await store.mark_removed(SCOPE, "sales", ["x"])

        contributors = await store.contributors(SCOPE, ["c1", "c2", "none"])

        assert {
            cid: [(i.source, i.item_id) for i in items] for cid, items in contributors.items()
        } == {
            "c1": [("hr", "a"), ("sales", "x")],
            "c2": [("hr", "b")],
        }
        assert contributors["c1"][1].removed_at is not None
        assert await store.forget_items(SCOPE, "hr", ["a", "zzz"]) == 1
        assert [i.item_id for i in (await store.contributors(SCOPE, ["c1"]))["c1"]] == ["x"]

    async def test_identities_bind_look_up_and_rebind_on_merge(self, store: StateStore) -> None:
        await store.bind_identities(SCOPE, {"p-mail": "c1", "p-uid": "c1", "p-other": "c2"})
        await store.upsert_items(SCOPE, "hr", writes(("a", "c1", "h"), ("b", "c2", "h")), "r1")

        assert await store.lookup_identities(SCOPE, ["p-mail", "p-other", "p-none"]) == {
            "p-mail": "c1",
            "p-other": "c2",
        }
        assert await store.rebind_contacts(SCOPE, ["c2"], "c1") == 1

        assert await store.identities_of(SCOPE, ["c1", "c2"]) == {
            "c1": ["p-mail", "p-other", "p-uid"]
        }
        assert sorted((await store.contributors(SCOPE, ["c1"]))["c1"], key=str) == sorted(
            (await store.get_items(SCOPE, "hr", ["a", "b"])).values(), key=str
        )

    async def test_binding_moves_an_identity_and_unbinding_drops_it(
        self, store: StateStore
    ) -> None:
        await store.bind_identities(SCOPE, {"p1": "c1"})
        await store.bind_identities(SCOPE, {"p1": "c2"})
        assert await store.lookup_identities(SCOPE, ["p1"]) == {"p1": "c2"}

        assert await store.unbind_identities(SCOPE, ["p1"]) == 1
        assert await store.lookup_identities(SCOPE, ["p1"]) == {}

    async def test_written_hashes_list_count_and_forget(self, store: StateStore) -> None:
        await store.record_written(SCOPE, "phonebook", {"c1": "h1", "c2": "h2", "c3": "h3"})
        await store.record_written(SCOPE, "phonebook", {"c2": "h2-new"})
        await store.record_written(SCOPE, "archive", {"c1": "h1"})

        assert await store.written_hashes(SCOPE, "phonebook", ["c1", "c2", "c9"]) == {
            "c1": "h1",
            "c2": "h2-new",
        }
        assert await store.count_written(SCOPE, "phonebook") == 3
        assert await store.written_ids(SCOPE, "phonebook", limit=2) == ["c1", "c2"]
        assert await store.written_ids(SCOPE, "phonebook", after="c2") == ["c3"]
        assert await store.forget_written(SCOPE, "phonebook", ["c1", "c3"]) == 2
        assert await store.written_ids(SCOPE, "phonebook") == ["c2"]
        assert await store.count_written(SCOPE, "archive") == 1
        assert await store.count_written(OTHER_SCOPE, "phonebook") == 0

    async def test_erasure_removes_every_row_of_the_subject_and_only_those(
        self, store: StateStore
    ) -> None:
        keys = Pseudonymizer(b"k" * 32)
        erika, uid, max_ = keys.identities(
            ["email:erika@example.org", "uid:erika-1", "email:max@example.org"]
        )
        for scope in (SCOPE, OTHER_SCOPE):
            await store.bind_identities(scope, {erika: "c-erika", uid: "c-erika", max_: "c-max"})
            await store.upsert_items(
                scope, "hr", writes(("e", "c-erika", "h"), ("m", "c-max", "h")), "r1"
            )
            await store.upsert_items(scope, "sales", writes(("e2", "c-erika", "h")), "r1")
            await store.record_written(scope, "phonebook", {"c-erika": "h", "c-max": "h"})
        await store.append_audit(SCOPE, [AuditEvent("created", subject=keys.subject("c-erika"))])

        found = await store.find_subject(SCOPE, [keys.identity("email:erika@example.org")])
        erased = await store.erase_subject(SCOPE, [erika])

        assert found == erased
        assert erased.contact_ids == ("c-erika",)
        assert erased.identities == tuple(sorted([erika, uid]))
        assert [(i.source, i.item_id) for i in erased.items] == [("hr", "e"), ("sales", "e2")]
        assert erased.written == (WrittenRef("phonebook", "c-erika"),)
        assert (await store.find_subject(SCOPE, [erika, uid])).empty
        assert await store.lookup_identities(SCOPE, [erika, uid, max_]) == {max_: "c-max"}
        assert await store.contributors(SCOPE, ["c-erika"]) == {}
        assert await store.written_ids(SCOPE, "phonebook") == ["c-max"]
        # The other scope is another ContactSync: its rows are its own erasure to make.
        assert (await store.find_subject(OTHER_SCOPE, [erika])).contact_ids == ("c-erika",)
        # The audit record names a pseudonym only, so the chain survives the erasure.
        assert (await store.audit_records(SCOPE))[0].subject == keys.subject("c-erika")

    async def test_erasing_an_unknown_subject_changes_nothing(self, store: StateStore) -> None:
        await store.bind_identities(SCOPE, {"p1": "c1"})
        assert (await store.erase_subject(SCOPE, ["p-unknown"])).empty
        assert await store.lookup_identities(SCOPE, ["p1"]) == {"p1": "c1"}

    async def test_a_changed_pseudonym_key_is_refused(self, store: StateStore) -> None:
        old, new = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
        await store.check_pseudonym_key(SCOPE, old.fingerprint)
        await store.check_pseudonym_key(SCOPE, old.fingerprint)
        await store.check_pseudonym_key(OTHER_SCOPE, new.fingerprint)

        with pytest.raises(PseudonymKeyMismatch, match="restore that key"):
            await store.check_pseudonym_key(SCOPE, new.fingerprint)

    async def test_reopening_keeps_state_and_migrates_once(
        self, harness: StoreHarness, clock: FakeClock
    ) -> None:
        first = await harness.open(clock)
        await first.commit_checkpoint(SCOPE, "hr", "t1")
        await first.aclose()

        second = await harness.open(clock)

        assert await second.get_checkpoint(SCOPE, "hr") == "t1"
        versions = await harness.rows("SELECT version FROM schema_migrations ORDER BY version")
        assert versions == [(version,) for version, _ in _schema.MIGRATIONS]

    async def test_a_store_from_before_the_suppression_list_migrates_and_reads_sources_again(
        self, harness: StoreHarness, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(_schema, "MIGRATIONS", _schema.MIGRATIONS[:1])
        monkeypatch.setattr(_schema, "LATEST", 1)
        old = await harness.open(clock)
        await old.commit_checkpoint(SCOPE, "hr", "t1")
        await old.upsert_items(SCOPE, "hr", writes(("e", "c-erika", "h1")), "r1")
        await old.record_written(SCOPE, "phonebook", {"c-erika": "w1"})
        await old.aclose()
        monkeypatch.undo()

        new = await harness.open(clock)

        versions = await harness.rows("SELECT version FROM schema_migrations ORDER BY version")
        assert versions == [(1,), (2,)]
        # Every source is read whole once more, so each item's identities get indexed;
        # contact ids and what was written stay, so nothing is created or rewritten.
        assert await new.get_checkpoint(SCOPE, "hr") is None
        [item] = (await new.get_items(SCOPE, "hr", ["e"])).values()
        assert (item.contact_id, item.content_hash) == ("c-erika", PENDING_HASH)
        assert await new.written_hashes(SCOPE, "phonebook", ["c-erika"]) == {"c-erika": "w1"}
        assert await new.suppress(SCOPE, [Suppression("p", "email", "erasure-1", "k")]) == 1

    async def test_erasure_finds_a_subject_by_any_identity_its_items_carry(
        self, harness: StoreHarness, store: StateStore
    ) -> None:
        # Merged on uid only: the email and phone are indexed, never bound.
        await store.bind_identities(SCOPE, {"uid-erika": "c-erika", "uid-max": "c-max"})
        await store.upsert_items(
            SCOPE, "hr", writes(("e", "c-erika", "h"), ("m", "c-max", "h")), "r1"
        )
        await store.index_carried(
            SCOPE,
            "hr",
            {
                "e": {"mail-erika": "email", "tel-erika": "phone", "uid-erika": "uid"},
                "m": {"mail-max": "email", "uid-max": "uid"},
            },
        )

        by_phone = await store.find_subject(SCOPE, ["tel-erika"])
        assert by_phone.contact_ids == ("c-erika",)
        assert by_phone.uids == ("uid-erika",)
        assert (await store.find_subject(OTHER_SCOPE, ["tel-erika"])).empty

        # Indexing again replaces what an item carried: an address it lost finds it no more.
        await store.index_carried(SCOPE, "hr", {"e": {"uid-erika": "uid"}})
        assert (await store.find_subject(SCOPE, ["mail-erika", "tel-erika"])).empty

        await store.erase_subject(SCOPE, ["uid-erika"])
        left = "SELECT item_id FROM item_identities ORDER BY item_id, pseudonym"
        assert await harness.rows(left) == [("m",), ("m",)]
        assert (await store.find_subject(SCOPE, ["mail-max"])).contact_ids == ("c-max",)

    async def test_forgetting_items_forgets_what_they_carried(self, store: StateStore) -> None:
        await store.upsert_items(SCOPE, "hr", writes(("e", "c-erika", "h")), "r1")
        await store.index_carried(SCOPE, "hr", {"e": {"mail-erika": "email"}})

        await store.forget_items(SCOPE, "hr", ["e"])
        await store.upsert_items(SCOPE, "hr", writes(("e", "c-other", "h")), "r2")

        assert (await store.find_subject(SCOPE, ["mail-erika"])).empty

    async def test_a_suppression_keeps_its_first_erasure_and_is_lifted_by_whole_erasures(
        self, store: StateStore
    ) -> None:
        first = [
            Suppression("mail-erika", "email", "erasure-1", "k"),
            Suppression("uid-erika", "uid", "erasure-1", "k"),
        ]
        again = [
            Suppression("mail-erika", "email", "erasure-2", "k"),
            Suppression("tel-erika", "phone", "erasure-2", "k"),
        ]
        assert await store.suppress(SCOPE, first) == 2
        assert await store.suppress(SCOPE, again) == 1
        assert await store.suppress(OTHER_SCOPE, first) == 2

        found = await store.suppressions(SCOPE, ["mail-erika", "tel-erika", "mail-max"])
        assert found == {"mail-erika": first[0], "tel-erika": again[1]}

        # Lifting by the phone lifts erasure-2 only; the address stays erasure-1's.
        assert await store.lift_suppressions(SCOPE, ["tel-erika"]) == [again[1]]
        assert set(await store.suppressions(SCOPE, ["mail-erika", "uid-erika"])) == {
            "mail-erika",
            "uid-erika",
        }
        # Lifting by the address lifts everything erasure-1 suppressed, its uid too.
        assert await store.lift_suppressions(SCOPE, ["mail-erika"]) == first
        assert await store.suppressions(SCOPE, ["mail-erika", "uid-erika"]) == {}
        assert await store.lift_suppressions(SCOPE, ["mail-erika"]) == []
        assert len(await store.suppressions(OTHER_SCOPE, ["mail-erika", "uid-erika"])) == 2

    async def test_suppressions_survive_purge_erasure_rekeying_and_reopening(
        self, harness: StoreHarness, clock: FakeClock
    ) -> None:
        old, new = Pseudonymizer(b"a" * 32), Pseudonymizer(b"b" * 32)
        store = await harness.open(clock)
        await store.check_pseudonym_key(SCOPE, old.fingerprint)
        entry = Suppression("mail-erika", "email", "erasure-1", old.fingerprint)
        await store.suppress(SCOPE, [entry])
        await store.upsert_items(SCOPE, "hr", writes(("e", "c-erika", "h")), "r1")
        await store.index_carried(SCOPE, "hr", {"e": {"mail-erika": "email"}})

        await store.erase_subject(SCOPE, ["mail-erika"])
        await store.forget_sync_state(SCOPE)
        assert await store.adopt_pseudonym_key(SCOPE, new.fingerprint, old.fingerprint)
        await store.aclose()
        reopened = await harness.open(clock)

        assert await reopened.suppressions(SCOPE, ["mail-erika"]) == {"mail-erika": entry}

    async def test_a_page_of_rows_larger_than_one_statement_round_trips(
        self, store: StateStore
    ) -> None:
        # More rows than one multi-row INSERT holds (_sql.MAX_PARAMS), and one id twice.
        many = [ItemWrite(f"item-{n:05d}", f"c-{n}", "h") for n in range(12_000)]
        await store.upsert_items(SCOPE, "hr", [*many, ItemWrite("item-00007", "c-7", "new")], "r1")
        await store.bind_identities(SCOPE, {f"p-{n}": f"c-{n}" for n in range(12_000)})

        items = await store.get_items(SCOPE, "hr", [i.item_id for i in many])
        assert len(items) == 12_000
        assert items["item-00007"].content_hash == "new"  # the last one given wins
        assert (
            len(await store.lookup_identities(SCOPE, [f"p-{n}" for n in range(12_000)])) == 12_000
        )

    async def test_an_atomic_block_commits_every_call_in_it_or_none(
        self, store: StateStore
    ) -> None:
        event = AuditEvent("created", subject="s1", destination="db")

        async def page(crash: bool) -> None:
            async with store.atomic() as tx:
                await tx.upsert_items(SCOPE, "hr", writes(("a", "c1", "h1")), "r1")
                await tx.append_audit(SCOPE, [event])
                await tx.commit_checkpoint(SCOPE, "hr", "token-1")
                if crash:
                    raise RuntimeError("crash before the commit")

        with pytest.raises(RuntimeError, match="crash"):
            await page(crash=True)

        assert await store.get_items(SCOPE, "hr", ["a"]) == {}
        assert await store.audit_records(SCOPE) == []
        assert await store.get_checkpoint(SCOPE, "hr") is None

        await page(crash=False)

        assert (await store.get_items(SCOPE, "hr", ["a"]))["a"].content_hash == "h1"
        assert [r.seq for r in await store.audit_records(SCOPE)] == [1]
        assert (await verify_chain(store, SCOPE)).ok
        assert await store.get_checkpoint(SCOPE, "hr") == "token-1"


def test_a_multirow_insert_repeats_the_row_of_placeholders_in_bounded_chunks() -> None:
    query = "INSERT INTO t (a, b, c) VALUES (?, ?, NULL) ON CONFLICT (a) DO NOTHING"
    rows = [(str(n), n) for n in range(_sql.MAX_PARAMS // 2 + 1)]

    statements = list(_sql.multirow(query, rows, "%s"))

    assert len(statements) == 2
    first, params = statements[0]
    assert first.startswith("INSERT INTO t (a, b, c) VALUES (%s, %s, NULL), (%s, %s, NULL), ")
    assert first.endswith("(%s, %s, NULL) ON CONFLICT (a) DO NOTHING")
    assert len(params) == _sql.MAX_PARAMS
    assert statements[1] == (
        "INSERT INTO t (a, b, c) VALUES (%s, %s, NULL) ON CONFLICT (a) DO NOTHING",
        [str(_sql.MAX_PARAMS // 2), _sql.MAX_PARAMS // 2],
    )


class TestRunCounts(StoreCase):
    """What the pages of one run share while several work at once."""

    async def test_reservations_add_up_per_run_and_scope(self, store: StateStore) -> None:
        assert await store.reserve_deletions(SCOPE, "run-1", 3) == 3
        assert await store.reserve_deletions(SCOPE, "run-1", 4) == 7
        assert await store.reserve_deletions(SCOPE, "run-2", 1) == 1
        assert await store.reserve_deletions(OTHER_SCOPE, "run-1", 2) == 2

    async def test_the_first_held_count_of_a_run_stays(self, store: StateStore) -> None:
        assert await store.run_held(SCOPE, "run-1", "phonebook", 100) == 100
        # Later pages see fewer rows (earlier ones deleted some): the base stays.
        assert await store.run_held(SCOPE, "run-1", "phonebook", 80) == 100
        assert await store.run_held(SCOPE, "run-1", "crm", 50) == 50
        assert await store.run_held(SCOPE, "run-2", "phonebook", 80) == 80

    async def test_a_run_forgets_only_its_own_counts(self, store: StateStore) -> None:
        await store.reserve_deletions(SCOPE, "run_1", 5)
        await store.run_held(SCOPE, "run_1", "phonebook", 100)
        await store.reserve_deletions(SCOPE, "runX1", 2)  # "_" would match "X" in LIKE

        assert await store.forget_run(SCOPE, "run_1") == 2
        assert await store.reserve_deletions(SCOPE, "run_1", 1) == 1
        assert await store.reserve_deletions(SCOPE, "runX1", 1) == 3

    async def test_the_identities_lock_is_taken_inside_a_transaction(
        self, store: StateStore
    ) -> None:
        async with store.atomic() as tx:
            await tx.lock_identities(SCOPE)
            await tx.lock_identities(SCOPE)  # again in the same transaction: no deadlock
            await tx.bind_identities(SCOPE, {"p1": "c1"})
        assert await store.lookup_identities(SCOPE, ["p1"]) == {"p1": "c1"}


def test_numbered_placeholders_count_on_across_rows_and_lists() -> None:
    query = "INSERT INTO t (a, b) VALUES (?, ?)"
    [(text, params)] = _sql.multirow(query, [("x", 1), ("y", 2)], _sql.NUMBERED)
    assert text == "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)"
    assert params == ["x", 1, "y", 2]

    select = "SELECT 1 FROM t WHERE s = ? AND a IN (?) AND b IN (?)"
    text, flat = _sql.expand(select, ("s", ["p", "q"], ["r"]), _sql.NUMBERED, arrays=True)
    assert text == "SELECT 1 FROM t WHERE s = $1 AND a = ANY($2) AND b = ANY($3)"
    assert flat == ["s", ["p", "q"], ["r"]]
    text, flat = _sql.expand(select, ("s", ["p", "q"], ["r"]), "?")
    assert text == "SELECT 1 FROM t WHERE s = ? AND a IN (?, ?) AND b IN (?)"
