"""A keys set's rotation rules, without files: ids that sort by age, what may be retired,
and a pseudonym rotation that never loses the key a store was written with."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from contactsync_cli import keyset
from contactsync_cli.keyset import KeySet, KeySetError
from contactsync_worker.keyring import Keyring

TODAY = date(2026, 12, 2)


def keys_of(*names: str) -> KeySet:
    return KeySet({name: keyset.new_key() for name in names})


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ((), "2026-12-02"),
        (("2026-11-26",), "2026-12-02"),
        (("2026-11-26", "2026-12-02"), "2026-12-02-02"),
        (("2026-12-02", "2026-12-02-02"), "2026-12-02-03"),
        # A clock behind the one that made the newest id: the newest id's day, suffixed.
        (("2026-12-05",), "2026-12-05-02"),
        # Counters, as the README's kubectl example names its first key.
        (("k0001",), "k0002"),
        (("k0009", "k0001"), "k0010"),
    ],
)
def test_a_new_key_id_sorts_after_every_existing_one(
    existing: tuple[str, ...], expected: str
) -> None:
    new_id = keyset.next_payload_id(existing, TODAY)
    assert new_id == expected
    assert all(new_id > old for old in existing)


def test_ids_of_one_day_sort_by_age_and_before_the_next_days() -> None:
    ids: list[str] = []
    for _ in range(99):
        ids.append(keyset.next_payload_id(ids, TODAY))
    assert ids == sorted(ids)
    assert len(set(ids)) == 99
    assert ids[-1] < keyset.next_payload_id((), date(2026, 12, 3))


@pytest.mark.parametrize("newest", ["2026-12-02-99", "k9999", "zeta"])
def test_no_id_that_would_sort_first_is_ever_made(newest: str) -> None:
    # k10000 would sort before k9999, so it would never encrypt: refused instead.
    with pytest.raises(KeySetError, match=rf"sorts after the newest one, '{newest}'"):
        keyset.next_payload_id([newest], TODAY)


def test_a_generated_set_has_every_entry_the_worker_reads_each_a_fresh_key() -> None:
    keys = keyset.generate(TODAY)
    assert set(keys.entries) == {"2026-12-02", "pseudonym", "requests.key"}
    raw = [base64.b64decode(value, validate=True) for value in keys.entries.values()]
    assert all(len(key) == 32 for key in raw)
    assert len(set(raw)) == 3
    assert Keyring.from_mapping(keys.entries).newest_id == "2026-12-02"


def test_rotating_adds_a_newer_key_and_keeps_every_entry_as_it_was() -> None:
    before = keyset.generate(date(2026, 11, 26))
    after = keyset.add_payload_key(before, TODAY).keys
    assert after.newest_id == "2026-12-02"
    assert {k: v for k, v in after.entries.items() if k != "2026-12-02"} == before.entries
    assert Keyring.from_mapping(after.entries).newest_id == "2026-12-02"


def test_a_pseudonym_rotation_keeps_the_current_key_as_the_previous_one() -> None:
    before = keyset.generate(TODAY)
    after = keyset.rotate_pseudonym(before).keys
    assert after.entries["pseudonym-previous"] == before.entries["pseudonym"]
    assert after.entries["pseudonym"] != before.entries["pseudonym"]


def test_a_second_pseudonym_rotation_is_refused_until_the_previous_key_is_removed() -> None:
    rotated = keyset.rotate_pseudonym(keyset.generate(TODAY)).keys
    with pytest.raises(KeySetError, match=r"remove it \(--retire pseudonym-previous\)"):
        keyset.rotate_pseudonym(rotated)
    finished = keyset.retire(rotated, "pseudonym-previous").keys
    assert "pseudonym-previous" not in finished.entries
    again = keyset.rotate_pseudonym(finished).keys
    assert again.entries["pseudonym-previous"] == rotated.entries["pseudonym"]


def test_from_a_derived_pseudonym_key_a_rotation_only_adds_the_dedicated_one() -> None:
    # The worker takes the key derived from the oldest payload key as the previous one.
    before = keys_of("k0001", "requests.key")
    change = keyset.rotate_pseudonym(before)
    assert set(change.keys.entries) == {"k0001", "requests.key", "pseudonym"}
    assert "keep k0001" in change.notes[0]


@pytest.mark.parametrize(
    ("names", "retired", "problem"),
    [
        (("k1", "k2", "pseudonym"), "k2", "the newest payload key, the one that encrypts"),
        (
            ("k1", "k2", "pseudonym"),
            "k3",
            "there is no payload key k3; the payload keys are k1, k2",
        ),
        (("k1", "k2", "pseudonym"), "pseudonym", "a pseudonym key, not a payload key"),
        (("k1", "k2", "requests.key"), "requests.key", "the request key, not a payload key"),
        (("k1", "k2"), "pseudonym-previous", "a pseudonym key, not a payload key"),
        (("k1", "k2"), "k1", "pseudonyms derive from k1"),
    ],
)
def test_retiring_a_key_something_still_needs_is_refused(
    names: tuple[str, ...], retired: str, problem: str
) -> None:
    with pytest.raises(KeySetError, match=problem):
        keyset.retire(keys_of(*names), retired)


def test_retiring_an_old_payload_key_leaves_the_rest() -> None:
    before = keys_of("k1", "k2", "k3", "pseudonym")
    after = keyset.retire(before, "k2").keys
    assert set(after.entries) == {"k1", "k3", "pseudonym"}
    assert after.newest_id == "k3"


def test_the_listing_names_roles_and_never_holds_key_material() -> None:
    keys = keyset.rotate_pseudonym(keyset.add_payload_key(keyset.generate(TODAY), TODAY).keys)
    entries = keyset.describe(keys.keys)
    roles = {entry.name: entry.role for entry in entries}
    assert roles["2026-12-02"] == "payload key, decrypts"
    assert roles["2026-12-02-02"] == "payload key, encrypts"
    assert roles["pseudonym"].startswith("reserved")
    assert roles["pseudonym-previous"].startswith("reserved")
    assert roles["requests.key"].startswith("reserved")
    text = repr(entries)
    for value in keys.keys.entries.values():
        assert value.decode() not in text


def test_a_set_without_a_pseudonym_or_request_key_is_listed_with_what_that_means() -> None:
    roles = {entry.name: entry.role for entry in keyset.describe(keys_of("k1", "k2"))}
    assert roles["pseudonym"] == "missing: pseudonyms derive from payload key k1, which must stay"
    assert roles["requests.key"].startswith("missing: purges and erasures")


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ({"pseudonym": keyset.new_key()}, "holds no payload key"),
        ({"k1": b"not base64!"}, r"key 'k1' is not valid base64"),
        ({"k1": base64.b64encode(b"short")}, r"key 'k1' is 5 bytes long"),
        ({"k1": keyset.new_key(), "pseudonym": base64.b64encode(b"x" * 16)}, "'pseudonym' is 16"),
        ({"bad/id": keyset.new_key()}, "key id 'bad/id' is not allowed"),
    ],
)
def test_entries_the_worker_would_refuse_are_refused_naming_where(
    entries: dict[str, bytes], problem: str
) -> None:
    with pytest.raises(KeySetError, match=problem) as caught:
        keyset.parse(entries, "keys.yaml")
    assert str(caught.value).startswith("keys.yaml")
