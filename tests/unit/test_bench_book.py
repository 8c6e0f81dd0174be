"""The benchmark's address book: the same seed gives the same cards, each of nine
properties that the worker's parser reads whole; a new revision changes a card."""

from __future__ import annotations

from bench.carddav_sync import book
from bench.carddav_sync.contactsync import FIELDS

from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.contacts.vcard import parse_vcard


def test_the_same_seed_gives_the_same_book_and_another_seed_another() -> None:
    assert list(book.whole_book(50, seed=7)) == list(book.whole_book(50, seed=7))
    assert list(book.whole_book(50, seed=7)) != list(book.whole_book(50, seed=8))


def test_a_card_is_vcard_3_with_nine_properties_the_worker_parses() -> None:
    text = book.card(42, seed=1)
    properties = text.splitlines()[2:-1]  # between BEGIN/VERSION and END
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert len(properties) == 9
    contact = parse_vcard(
        text.encode(), FieldPolicy(allowed=frozenset(FIELDS)), source="bench", item_id="42"
    )
    assert contact.uid == book.uid(42)


def test_a_new_revision_changes_the_card_and_keeps_its_uid() -> None:
    assert book.card(3, seed=1, revision=1) != book.card(3, seed=1)
    assert f"UID:{book.uid(3)}\r\n" in book.card(3, seed=1, revision=1)


def test_one_percent_of_the_book_changes_the_same_way_for_the_same_run() -> None:
    changed = book.changed_indexes(10_000, seed=1, revision=2, percent=1.0)
    assert changed == book.changed_indexes(10_000, seed=1, revision=2, percent=1.0)
    assert len(set(changed)) == 100
