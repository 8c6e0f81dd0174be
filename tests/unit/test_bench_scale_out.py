"""The scale-out benchmark's pure parts: the proxy drops the cards from whatever spelling of
a sync-collection the source sends and from nothing else, the checks expect a multiget per
chunk of a page, and the guard check's edits fold distinct contacts past the limit."""

from __future__ import annotations

import argparse

import defusedxml.ElementTree as ET
import pytest
from bench.carddav_sync import book
from bench.carddav_sync.contactsync import FIELDS
from bench.scale_out import checks, guard
from bench.scale_out.__main__ import setups
from bench.scale_out.proxy import MULTIGET, SYNC_COLLECTION, report_kind, without_cards
from bench.scale_out.region import MAX_DELETE_PERCENT, ONE, TWO

from contactsync_api.fields import IdentityKey
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.contacts.vcard import parse_vcard
from contactsync_worker.webdav import multiget_body, sync_collection_body

ADDRESS_DATA = "{urn:ietf:params:xml:ns:carddav}address-data"


def asks_for_cards(body: bytes) -> bool:
    return any(e.tag == ADDRESS_DATA for e in ET.fromstring(body).iter())


@pytest.mark.parametrize("token", ["", "http://radicale/sync/42"])
def test_the_proxy_drops_the_cards_from_the_listing_the_source_asks_for(token: str) -> None:
    body = sync_collection_body(token, with_cards=True)
    assert asks_for_cards(body)
    stripped, dropped = without_cards(body)
    assert dropped
    assert not asks_for_cards(stripped)
    root = ET.fromstring(stripped)
    assert root.tag == SYNC_COLLECTION
    assert root.findtext("{DAV:}sync-token") == token
    assert root.find("{DAV:}prop/{DAV:}getetag") is not None


@pytest.mark.parametrize(
    "prop",
    [
        "<C:address-data></C:address-data>",
        '<address-data xmlns="urn:ietf:params:xml:ns:carddav"/>',
        '<card:address-data xmlns:card="urn:ietf:params:xml:ns:carddav">'
        '<card:prop name="EMAIL"/></card:address-data>',
    ],
)
def test_the_proxy_drops_the_cards_however_the_listing_spells_them(prop: str) -> None:
    body = (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:sync-token/><D:sync-level>1</D:sync-level>'
        f"<D:prop><D:getetag/>{prop}</D:prop></D:sync-collection>"
    ).encode()
    stripped, dropped = without_cards(body)
    assert dropped
    assert not asks_for_cards(stripped)


def test_the_proxy_leaves_a_multiget_and_a_listing_without_cards_as_they_are() -> None:
    multiget = multiget_body(["/contactsync/bench/a.vcf"])
    assert report_kind(multiget) == MULTIGET.rpartition("}")[2]
    assert without_cards(multiget) == (multiget, False)
    bare = sync_collection_body("")
    assert without_cards(bare) == (bare, False)


def test_a_full_read_takes_a_multiget_per_hundred_cards_of_each_page() -> None:
    assert checks.multigets_for(5_000) == 50
    assert checks.multigets_for(1_234) == 5 + 5 + 3  # pages of 500, 500 and 234


def test_the_guard_check_folds_distinct_contacts_past_the_limit() -> None:
    cards = 5_000
    pairs = guard.pairs(cards)
    touched = [n for pair in pairs for n in pair]
    assert len(set(touched)) == len(touched) == 2 * len(pairs)
    assert max(touched) < cards
    assert len(pairs) * 100 > MAX_DELETE_PERCENT * cards
    assert guard.least_rows(cards) == 4_000


def test_an_edited_card_names_its_own_email_and_the_other_cards() -> None:
    policy = FieldPolicy(allowed=frozenset(FIELDS), identity=(IdentityKey.EMAIL,))
    edited = guard.joined(3, 1_503, seed=1)
    contact = parse_vcard(edited.encode(), policy, source="bench", item_id="3")
    own, other = (guard.email_of(book.card(n, seed=1)) for n in (3, 1_503))
    assert contact.identity(policy.identity) == (f"email:{own}", f"email:{other}")


def test_the_set_ups_start_with_one_worker_each_named_once() -> None:
    assert setups("one-worker,two-workers") == (ONE, TWO)
    for wrong in ("two-workers,one-worker", "one-worker,one-worker", "one-worker,three"):
        with pytest.raises(argparse.ArgumentTypeError):
            setups(wrong)
