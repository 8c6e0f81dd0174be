"""Radicale is a real CardDAV server: conditional PUT, sync-collection (RFC 6578), multiget."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from tests.servers.radicale import RadicaleServer

pytestmark = pytest.mark.carddav

DAV = "{DAV:}"
CARDDAV = "{urn:ietf:params:xml:ns:carddav}"
XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}


@dataclass(frozen=True)
class Multistatus:
    """The parts of a 207 response these tests look at: hrefs with their props, the token."""

    props: dict[str, dict[str, str]]
    sync_token: str | None


def parse_multistatus(response: httpx.Response) -> Multistatus:
    assert response.status_code == 207, response.text
    # The XML comes from our own server on loopback, not from an untrusted peer.
    root = ET.fromstring(response.content)  # noqa: S314
    props: dict[str, dict[str, str]] = {}
    for item in root.findall(f"{DAV}response"):
        href = item.findtext(f"{DAV}href", default="")
        found: dict[str, str] = {}
        for prop in item.iterfind(f"{DAV}propstat/{DAV}prop/*"):
            found[prop.tag] = prop.text or ""
        props[href] = found
    return Multistatus(props=props, sync_token=root.findtext(f"{DAV}sync-token"))


def vcard(uid: str, name: str, email: str) -> str:
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:{uid}",
        f"FN:{name}",
        f"N:{name.split()[-1]};{name.split()[0]};;;",
        f"EMAIL;TYPE=INTERNET:{email}",
        "END:VCARD",
    ]
    return "\r\n".join(lines) + "\r\n"


def put_new(client: httpx.Client, url: str, card: str) -> httpx.Response:
    return client.put(
        url,
        content=card,
        headers={"Content-Type": "text/vcard; charset=utf-8", "If-None-Match": "*"},
    )


def sync_collection(client: httpx.Client, book: str, token: str) -> Multistatus:
    token_element = f"<D:sync-token>{token}</D:sync-token>" if token else "<D:sync-token/>"
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:">
  {token_element}
  <D:sync-level>1</D:sync-level>
  <D:prop><D:getetag/></D:prop>
</D:sync-collection>"""
    response = client.request("REPORT", book, content=body, headers={**XML_HEADERS, "Depth": "0"})
    return parse_multistatus(response)


@pytest.fixture
def book(radicale_server: RadicaleServer) -> str:
    return radicale_server.create_addressbook()


@pytest.fixture
def client(radicale_server: RadicaleServer) -> Iterator[httpx.Client]:
    with radicale_server.client() as client:
        yield client


def test_sync_collection_reports_all_cards_then_only_the_changed_one(
    book: str, client: httpx.Client
) -> None:
    alice, bob = f"{book}alice.vcf", f"{book}bob.vcf"
    assert (
        put_new(client, alice, vcard("alice", "Alice Liddell", "alice@example.test")).status_code
        == 201
    )
    assert put_new(client, bob, vcard("bob", "Bob Builder", "bob@example.test")).status_code == 201

    initial = sync_collection(client, book, token="")
    assert initial.sync_token
    assert set(initial.props) == {urlsplit(alice).path, urlsplit(bob).path}

    etag = initial.props[urlsplit(alice).path][f"{DAV}getetag"]
    changed = client.put(
        alice,
        content=vcard("alice", "Alice Liddell", "alice@wonderland.test"),
        headers={"Content-Type": "text/vcard; charset=utf-8", "If-Match": etag},
    )
    assert changed.status_code in (201, 204)

    delta = sync_collection(client, book, token=initial.sync_token)
    assert set(delta.props) == {urlsplit(alice).path}
    assert delta.sync_token not in (None, initial.sync_token)


def test_put_with_if_none_match_refuses_to_overwrite_a_card(
    book: str, client: httpx.Client
) -> None:
    card = f"{book}{uuid.uuid4().hex}.vcf"
    assert (
        put_new(client, card, vcard("carol", "Carol Danvers", "carol@example.test")).status_code
        == 201
    )
    again = put_new(client, card, vcard("carol", "Carol Danvers", "other@example.test"))
    assert again.status_code == 412


def test_addressbook_multiget_returns_the_vcard_data(book: str, client: httpx.Client) -> None:
    card = f"{book}dave.vcf"
    assert (
        put_new(client, card, vcard("dave", "Dave Lister", "dave@example.test")).status_code == 201
    )
    body = f"""<?xml version="1.0" encoding="utf-8"?>
<C:addressbook-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:prop><D:getetag/><C:address-data/></D:prop>
  <D:href>{urlsplit(card).path}</D:href>
</C:addressbook-multiget>"""
    response = client.request("REPORT", book, content=body, headers={**XML_HEADERS, "Depth": "0"})

    result = parse_multistatus(response)
    data = result.props[urlsplit(card).path][f"{CARDDAV}address-data"]
    assert "UID:dave" in data
    assert "dave@example.test" in data
