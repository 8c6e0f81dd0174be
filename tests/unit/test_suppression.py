"""Erasure that sticks: who an erasure finds and suppresses, which records a sync then skips,
and what lifting ends. The engine over a real SQLite store; no source or destination is
reached (nothing here was written downstream). Whole syncs against Radicale and PostgreSQL:
tests/integration/test_suppression.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_api.workflows import SubjectIds
from contactsync_worker.audit import AuditAction
from contactsync_worker.contacts import identifiers
from contactsync_worker.contacts.model import Contact, FieldPolicy
from contactsync_worker.contacts.vcard import parse_vcard
from contactsync_worker.engine import carried, subjects, suppression
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.pseudonym import Pseudonymizer
from contactsync_worker.store import ItemWrite, StateStore
from contactsync_worker.store.sqlite import SqliteStore
from tests.carddav_sync import region_config

KEY = Pseudonymizer(b"k" * 32)
NEW_KEY = Pseudonymizer(b"n" * 32)
ERASURE = "contactsync/tests/phonebook/local/erasure/1"
ERIKA = Contact(
    "team",
    "erika.vcf",
    {F.FULL_NAME: "Erika Mustermann", F.EMAILS: ("erika@example.org",), F.PHONES: ("+49 30 1",)},
    uid="erika-1",
)
MAX = Contact("team", "max.vcf", {F.EMAILS: ("max@example.org",)}, uid="max-1")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StateStore]:
    opened = await SqliteStore.open(tmp_path / "state.sqlite")
    yield opened
    await opened.aclose()


def region(
    store: StateStore,
    tmp_path: Path,
    key: Pseudonymizer = KEY,
    previous: Pseudonymizer | None = None,
) -> RegionRuntime:
    # Merged on uid only: finding people by email or phone must not depend on it.
    config = region_config("http://127.0.0.1:9/team/", "http://127.0.0.1:9/book/", identity=["uid"])
    return RegionRuntime(config, store, key, tmp_path, previous_pseudonyms=previous)


async def synced(runtime: RegionRuntime, contact: Contact, contact_id: str) -> None:
    """What a sync remembers of a record it wrote, as sync_page records it."""
    store, scope = runtime.store, runtime.scope
    uid = runtime.pseudonyms.identities(contact.identity((IdentityKey.UID,)))
    await store.bind_identities(scope, dict.fromkeys(uid, contact_id))
    await store.upsert_items(
        scope, contact.source, [ItemWrite(contact.item_id, contact_id, "h")], "r1"
    )
    await store.index_carried(scope, contact.source, carried.index(runtime, [contact]))


async def actions(runtime: RegionRuntime) -> list[str]:
    return [r.action for r in await runtime.store.audit_records(runtime.scope)]


def test_a_request_names_a_person_as_their_records_carry_them() -> None:
    messy = SubjectIds(email=" Erika@Example.ORG ", phone="+49 (30) 1", uid=" erika-1 ")
    assert set(identifiers.named(messy)) == set(identifiers.carried(ERIKA))
    assert [identifiers.kind(v) for v in identifiers.named(messy)] == ["email", "phone", "uid"]


def test_a_value_with_nothing_left_after_normalizing_names_no_one() -> None:
    assert identifiers.named(SubjectIds(phone="ext.", email="  ")) == ()


async def test_an_erasure_finds_a_person_by_a_phone_the_spec_does_not_merge_on(
    store: StateStore, tmp_path: Path
) -> None:
    runtime = region(store, tmp_path)
    await synced(runtime, ERIKA, "c-erika")
    await synced(runtime, MAX, "c-max")

    result = await subjects.erase(runtime, SubjectIds(phone="+49301"), ERASURE)

    assert (result.contacts_erased, result.identifiers_suppressed) == (1, 2)
    entries = await store.suppressions(
        runtime.scope, KEY.identities(["phone:+49301", "uid:erika-1"])
    )
    assert sorted(e.kind for e in entries.values()) == ["phone", "uid"]
    assert {e.erasure for e in entries.values()} == {ERASURE}
    # Only what was named, and the record's uid: an email of theirs may be a shared mailbox.
    assert not await store.suppressions(runtime.scope, KEY.identities(["email:erika@example.org"]))
    assert (await store.find_subject(runtime.scope, KEY.identities(["uid:max-1"]))).contact_ids == (
        "c-max",
    )
    assert await actions(runtime) == ["suppressed", "erased"]


async def test_a_sync_skips_every_record_carrying_a_suppressed_value_and_audits_by_pseudonym(
    store: StateStore, tmp_path: Path
) -> None:
    runtime = region(store, tmp_path)
    await subjects.erase(runtime, SubjectIds(email="erika@example.org", uid="erika-1"), ERASURE)
    moved = Contact("team", "erika.vcf", {F.EMAILS: ("erika@new.example",)}, uid="erika-1")
    elsewhere = Contact("crm", "row-7", {F.EMAILS: ("ERIKA@example.org",)})

    screened = await suppression.screen(runtime, "team", [moved, MAX, elsewhere])

    assert screened.kept == [MAX]
    assert screened.skipped == [moved, elsewhere]
    assert [e.action for e in screened.events] == [AuditAction.SKIPPED_SUPPRESSED] * 2
    assert [e.detail for e in screened.events] == [
        {"erasure": ERASURE, "matched": "uid"},
        {"erasure": ERASURE, "matched": "email"},
    ]
    text = repr(screened.events).lower()
    assert "erika" not in text
    assert all(e.subject and len(e.subject) == 64 for e in screened.events)


async def test_an_erasure_of_someone_never_synced_still_keeps_them_out(
    store: StateStore, tmp_path: Path
) -> None:
    runtime = region(store, tmp_path)

    result = await subjects.erase(runtime, SubjectIds(email="erika@example.org"), ERASURE)

    assert (result.contacts_erased, result.identifiers_suppressed) == (0, 1)
    assert (await suppression.screen(runtime, "team", [ERIKA])).skipped == [ERIKA]


async def test_during_a_key_rotation_suppressions_move_to_the_new_key_as_syncs_meet_them(
    store: StateStore, tmp_path: Path
) -> None:
    await subjects.erase(region(store, tmp_path), SubjectIds(email="erika@example.org"), ERASURE)
    rotating = region(store, tmp_path, key=NEW_KEY, previous=KEY)

    screened = await suppression.screen(rotating, "team", [ERIKA])

    assert screened.skipped == [ERIKA]
    assert [e.detail for e in screened.events][-1] == {
        "erasure": ERASURE,
        "identifiers": 1,
        "rekeyed": True,
    }
    # Once the previous key is gone, the entry made under the new key still matches.
    rotated = region(store, tmp_path, key=NEW_KEY)
    assert (await suppression.screen(rotated, "team", [ERIKA])).skipped == [ERIKA]


async def test_lifting_ends_the_whole_erasure_and_has_the_sources_read_again(
    store: StateStore, tmp_path: Path
) -> None:
    runtime = region(store, tmp_path)
    await synced(runtime, ERIKA, "c-erika")
    await subjects.erase(runtime, SubjectIds(email="erika@example.org"), ERASURE)
    await store.commit_checkpoint(runtime.scope, "team", "sync-token-1")

    lifted = await suppression.lift(runtime, SubjectIds(email="Erika@example.org"), "lift-1")

    # The uid the erasure suppressed with the address goes too: nobody has to know it.
    assert (lifted.erasures_lifted, lifted.identifiers_lifted) == (1, 2)
    assert (await suppression.screen(runtime, "team", [ERIKA])).kept == [ERIKA]
    assert await store.get_checkpoint(runtime.scope, "team") is None
    [record] = (await store.audit_records(runtime.scope))[-1:]
    assert (record.action, record.detail) == (
        AuditAction.SUPPRESSION_LIFTED,
        {"erasure": ERASURE, "identifiers": 2, "request": "lift-1"},
    )


async def test_lifting_what_no_erasure_suppressed_changes_nothing_and_says_so(
    store: StateStore, tmp_path: Path
) -> None:
    runtime = region(store, tmp_path)
    await store.commit_checkpoint(runtime.scope, "team", "sync-token-1")

    lifted = await suppression.lift(runtime, SubjectIds(uid="nobody"), "lift-1")

    assert (lifted.erasures_lifted, lifted.identifiers_lifted) == (0, 0)
    assert await store.get_checkpoint(runtime.scope, "team") == "sync-token-1"
    [record] = await store.audit_records(runtime.scope)
    assert record.detail == {"found": False, "request": "lift-1"}


def test_a_records_uid_is_carried_for_erasure_even_where_identity_does_not_merge_on_it() -> None:
    policy = FieldPolicy(
        allowed=frozenset({F.FULL_NAME, F.EMAILS}),
        identity=(IdentityKey.EMAIL,),
    )
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:erika-1\r\nFN:Erika\r\nEMAIL:e@x.org\r\nEND:VCARD\r\n"
    contact = parse_vcard(card, policy, source="team", item_id="erika.vcf")

    assert contact.uid is None  # never merged on, never written
    assert contact.identity(policy.identity) == ("email:e@x.org",)
    assert identifiers.carried(contact) == ("email:e@x.org", "uid:erika-1")
