"""The CardDAV source and destination against a real Radicale, a fresh address book per test."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from contactsync_api.errors import DestinationUnavailable, SourceUnavailable
from contactsync_api.fields import ContactField as F
from contactsync_api.spec import ConsentSpec
from contactsync_worker.contacts.consent import ConsentVerdict, judge
from contactsync_worker.contacts.model import Contact, FieldPolicy
from contactsync_worker.contacts.typed import Typed, texts
from contactsync_worker.contacts.vcard import parse_vcard
from contactsync_worker.contacts.vcard_writer import Version
from contactsync_worker.destinations import Record
from contactsync_worker.destinations.carddav import CardDavDestination, DestinationConflict
from contactsync_worker.sources import carddav as carddav_source
from contactsync_worker.sources.carddav import CardDavSource
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer

pytestmark = pytest.mark.carddav

CORPUS = Path(__file__).parents[1] / "corpus" / "vcards"
POLICY = FieldPolicy(
    allowed=frozenset({F.FULL_NAME, F.EMAILS, F.PHONES, F.ORGANIZATION}),
    consent_property="X-CONSENT",
)
EVERYTHING = FieldPolicy(allowed=frozenset(F))
VCARD = {"Content-Type": "text/vcard; charset=utf-8"}


# --- fixtures and helpers ----------------------------------------------------------------


@pytest.fixture
def book(radicale_server: RadicaleServer) -> str:
    return radicale_server.create_addressbook()


@pytest.fixture
async def dav(radicale_server: RadicaleServer) -> AsyncIterator[httpx.AsyncClient]:
    """Another client of the same server: the person or program the adapters share it with."""
    auth = credentials(radicale_server)
    async with httpx.AsyncClient(auth=auth, timeout=10.0) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


def credentials(server: RadicaleServer) -> tuple[str, str]:
    return (server.username, server.password)


@pytest.fixture
def source(book: str, http: httpx.AsyncClient, radicale_server: RadicaleServer) -> CardDavSource:
    return CardDavSource(
        book, POLICY, name="sales-book", credentials=credentials(radicale_server), client=http
    )


def destination(
    book: str, server: RadicaleServer, client: httpx.AsyncClient, version: Version = "3.0"
) -> CardDavDestination:
    return CardDavDestination(
        book,
        name="phonebook",
        credentials=credentials(server),
        client=client,
        vcard_version=version,
    )


async def upload(
    dav: httpx.AsyncClient, book: str, corpus_name: str, href: str | None = None
) -> str:
    """Put a corpus card into the book and return its href path (the source's item id)."""
    url = f"{book}{href or corpus_name}"
    response = await dav.put(url, content=(CORPUS / corpus_name).read_bytes(), headers=VCARD)
    assert response.status_code == 201, response.text
    return urlsplit(url).path


async def etag(dav: httpx.AsyncClient, url: str) -> str:
    response = await dav.get(url)
    assert response.status_code == 200
    return response.headers["etag"]


def by_id(contacts: list[Contact]) -> dict[str, Contact]:
    return {c.item_id: c for c in contacts}


# --- source ------------------------------------------------------------------------------


async def test_full_sync_returns_every_card_minimized_with_a_checkpoint(
    source: CardDavSource, dav: httpx.AsyncClient, book: str
) -> None:
    names = ["alice-liddell-v3.vcf", "zoe-angstrom-v4-folded.vcf", "yamada-taro-v4-cjk.vcf"]
    hrefs = [await upload(dav, book, name) for name in names]

    page = await source.fetch(cursor=None, checkpoint=None)

    assert page.complete
    assert page.snapshot
    assert page.checkpoint
    assert page.removed == []
    assert page.quarantined == []
    contacts = by_id(page.contacts)
    assert set(contacts) == set(hrefs)
    for contact in contacts.values():
        assert set(contact.fields) <= POLICY.allowed
        assert contact.source == "sales-book"
    zoe = contacts[hrefs[1]]
    assert zoe.fields[F.FULL_NAME] == "Zoë Ångström"
    assert zoe.fields[F.EMAILS] == (
        Typed("zoe.angstrom@universitet.example", ("work",), pref=1),
        Typed("zoe@ångström.example", ("home",)),
    )
    assert contacts[hrefs[2]].fields[F.ORGANIZATION] == "株式会社サンプル"


async def test_incremental_sync_returns_exactly_the_change_and_the_removal(
    source: CardDavSource, dav: httpx.AsyncClient, book: str
) -> None:
    alice = await upload(dav, book, "alice-liddell-v3.vcf")
    bob = await upload(dav, book, "bob-builder-v3-photo.vcf")
    await upload(dav, book, "dave-lister-v3-photo-url.vcf", href="dave.vcf")
    first = await source.fetch(cursor=None, checkpoint=None)
    assert len(first.contacts) == 3

    changed = (
        (CORPUS / "alice-liddell-v3.vcf")
        .read_text()
        .replace("alice@wonderland.example", "alice@looking-glass.example")
    )
    url = f"{book}alice-liddell-v3.vcf"
    assert (
        await dav.put(url, content=changed, headers={**VCARD, "If-Match": await etag(dav, url)})
    ).is_success
    assert (await dav.delete(f"{book}bob-builder-v3-photo.vcf")).is_success

    delta = await source.fetch(cursor=None, checkpoint=first.checkpoint)

    assert delta.complete
    assert not delta.snapshot
    assert [c.item_id for c in delta.contacts] == [alice]
    assert texts(delta.contacts[0].fields[F.EMAILS]) == (
        "alice@looking-glass.example",
        "alice.liddell@home.example",
    )
    assert delta.removed == [bob]
    assert delta.checkpoint not in (None, first.checkpoint)

    quiet = await source.fetch(cursor=None, checkpoint=delta.checkpoint)
    assert (quiet.contacts, quiet.removed, quiet.complete) == ([], [], True)


@pytest.mark.parametrize(
    "token", ["http://radicale.org/ns/sync/" + "0" * 64, "forged-token", "<&>"]
)
async def test_refused_sync_token_triggers_a_full_resync(
    source: CardDavSource, dav: httpx.AsyncClient, book: str, token: str
) -> None:
    hrefs = {
        await upload(dav, book, "alice-liddell-v3.vcf"),
        await upload(dav, book, "judy-escapes-v4.vcf"),
    }

    page = await source.fetch(cursor=None, checkpoint=token)

    assert page.snapshot
    assert page.complete
    assert page.checkpoint
    assert {c.item_id for c in page.contacts} == hrefs


async def test_cards_are_parsed_off_the_event_loop(
    source: CardDavSource, dav: httpx.AsyncClient, book: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing is CPU work; done on the loop, a large book would starve the heartbeats.
    Radicale and the parser are the real ones: the wrapper only notes which thread parses."""
    await upload(dav, book, "juergen-gross-v3-qp.vcf")
    threads: list[str] = []
    real = parse_vcard

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(carddav_source, "parse_vcard", recording)
    page = await source.fetch(cursor=None, checkpoint=None)
    assert len(page.contacts) == 1
    assert threads
    assert threading.main_thread().name not in threads


async def test_broken_card_is_quarantined_by_href_and_the_others_come_through(
    source: CardDavSource, dav: httpx.AsyncClient, book: str
) -> None:
    # Radicale accepts this card; our parser refuses the unknown version.
    broken = await upload(dav, book, "broken-unsupported-version.vcf")
    good = await upload(dav, book, "juergen-gross-v3-qp.vcf")

    page = await source.fetch(cursor=None, checkpoint=None)

    assert [c.item_id for c in page.contacts] == [good]
    assert page.contacts[0].fields[F.FULL_NAME] == "Jürgen Groß"
    # Named by a digest of its href, which often holds a person's name.
    digest = hashlib.sha256(broken.encode()).hexdigest()[:16]
    assert [(q.source, q.item_id) for q in page.quarantined] == [
        ("sales-book", f"href-sha256:{digest}")
    ]
    reason = page.quarantined[0].reason
    assert "version" in reason
    assert "Ned" not in reason
    assert "ned@future.example" not in reason
    assert page.complete
    assert page.checkpoint


async def test_consent_is_read_from_radicale_cards(
    source: CardDavSource, dav: httpx.AsyncClient, book: str
) -> None:
    # One purpose per X-CONSENT line: Radicale's vobject keeps only the first value of an
    # unescaped comma list ("directory,newsletter" comes back as "directory").
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:consent-1\r\nFN:Pat Consent\r\n"
        "X-CONSENT:directory\r\nX-CONSENT:phonebook\\,newsletter\r\nEND:VCARD\r\n"
    )
    assert (await dav.put(f"{book}consent.vcf", content=card, headers=VCARD)).status_code == 201
    page = await source.fetch(cursor=None, checkpoint=None)
    assert page.contacts[0].consent == ("directory", "phonebook,newsletter")
    every = ConsentSpec(purposes=["directory", "phonebook", "newsletter"])
    assert judge(page.contacts[0].consent, every, datetime.now(UTC)) is ConsentVerdict.GRANTED


async def test_fetch_items_returns_the_current_cards_of_the_given_hrefs(
    source: CardDavSource, dav: httpx.AsyncClient, book: str
) -> None:
    alice = await upload(dav, book, "alice-liddell-v3.vcf")
    await upload(dav, book, "bob-builder-v3-photo.vcf")
    gone = urlsplit(f"{book}never-existed.vcf").path

    contacts = await source.fetch_items([alice, gone])

    assert [c.item_id for c in contacts] == [alice]
    assert contacts[0].fields[F.FULL_NAME] == "Alice Liddell"


async def test_unreachable_source_raises_source_unavailable_not_an_empty_page(
    http: httpx.AsyncClient,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/contactsync/book/"
    source = CardDavSource(url, POLICY, name="down", credentials=("u", "p4ss"), client=http)
    with pytest.raises(SourceUnavailable, match="REPORT request failed") as caught:
        await source.fetch(cursor=None, checkpoint=None)
    assert "ConnectError" in str(caught.value)
    assert "p4ss" not in str(caught.value)
    with pytest.raises(SourceUnavailable):
        await source.fetch_items(["/contactsync/book/a.vcf"])


async def test_wrong_password_raises_source_unavailable_without_the_password(
    book: str, http: httpx.AsyncClient, radicale_server: RadicaleServer
) -> None:
    source = CardDavSource(
        book, POLICY, name="sales-book", credentials=("contactsync", "wr0ng-s3cret"), client=http
    )
    with pytest.raises(SourceUnavailable, match="authentication failed") as caught:
        await source.fetch(cursor=None, checkpoint="")
    assert "wr0ng-s3cret" not in str(caught.value)
    assert radicale_server.password not in str(caught.value)


async def test_source_made_from_a_factory_closes_its_own_client(
    book: str, dav: httpx.AsyncClient, radicale_server: RadicaleServer
) -> None:
    made: list[httpx.AsyncClient] = []

    def factory() -> httpx.AsyncClient:
        made.append(httpx.AsyncClient(timeout=10.0))
        return made[-1]

    await upload(dav, book, "alice-liddell-v3.vcf")
    source = CardDavSource(
        book, POLICY, name="s", credentials=credentials(radicale_server), client=factory
    )
    assert len((await source.fetch(cursor=None, checkpoint=None)).contacts) == 1
    await source.aclose()
    assert len(made) == 1
    assert made[0].is_closed


# --- destination -------------------------------------------------------------------------


def records_from_corpus(*names: str) -> list[Record]:
    records = []
    for name in names:
        contact = parse_vcard(
            (CORPUS / name).read_bytes(), EVERYTHING, source="corpus", item_id=name
        )
        records.append(Record(contact_id=name.removesuffix(".vcf"), fields=contact.fields))
    return records


RICH = (
    "alice-liddell-v3.vcf",
    "zoe-angstrom-v4-folded.vcf",
    "juergen-gross-v3-qp.vcf",
    "yamada-taro-v4-cjk.vcf",
    "bob-builder-v3-photo.vcf",
    "carol-danvers-v4-photo-uri.vcf",
    "judy-escapes-v4.vcf",
    "duplicate-uid-grace.vcf",
    "duplicate-uid-heidi.vcf",
)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
async def test_upsert_creates_cards_that_read_back_without_losing_a_field(
    book: str, http: httpx.AsyncClient, radicale_server: RadicaleServer, version: Version
) -> None:
    records = records_from_corpus(*RICH)
    target = destination(book, radicale_server, http, version)

    result = await target.upsert(records)

    assert (result.created, result.updated, result.unchanged) == (len(records), 0, 0)
    assert result.unsupported_fields == {}
    # Read the book back as a source: every field of every record, exactly.
    reader = CardDavSource(
        book, EVERYTHING, name="b", credentials=credentials(radicale_server), client=http
    )
    page = await reader.fetch(cursor=None, checkpoint=None)
    path = urlsplit(book).path
    read = {c.item_id.removeprefix(path).removesuffix(".vcf"): c for c in page.contacts}
    assert {r.contact_id: dict(r.fields) for r in records} == {
        k: dict(c.fields) for k, c in read.items()
    }
    assert await target.count() == len(records)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
async def test_second_identical_upsert_writes_nothing(
    book: str,
    http: httpx.AsyncClient,
    radicale_server: RadicaleServer,
    dav: httpx.AsyncClient,
    version: Version,
) -> None:
    # Radicale rewrites what it stores (a 4.0 card by 3.0's rules): the hash we wrote decides.
    names = ("alice-liddell-v3.vcf", "juergen-gross-v3-qp.vcf", "carol-danvers-v4-photo-uri.vcf")
    records = records_from_corpus(*names)
    target = destination(book, radicale_server, http, version)
    await target.upsert(records)
    before = {r.contact_id: await etag(dav, f"{book}{r.contact_id}.vcf") for r in records}

    again = await target.upsert(records)

    assert (again.created, again.updated, again.unchanged) == (0, 0, len(records))
    after = {r.contact_id: await etag(dav, f"{book}{r.contact_id}.vcf") for r in records}
    assert after == before


async def test_update_rewrites_only_the_changed_card(
    book: str, http: httpx.AsyncClient, radicale_server: RadicaleServer, dav: httpx.AsyncClient
) -> None:
    alice, juergen = records_from_corpus("alice-liddell-v3.vcf", "juergen-gross-v3-qp.vcf")
    target = destination(book, radicale_server, http)
    await target.upsert([alice, juergen])
    before = {r.contact_id: await etag(dav, f"{book}{r.contact_id}.vcf") for r in (alice, juergen)}

    moved = Record(alice.contact_id, {**alice.fields, F.TITLE: "Queen of Hearts' adviser"})
    result = await target.upsert([moved, juergen])

    assert (result.created, result.updated, result.unchanged) == (0, 1, 1)
    assert await etag(dav, f"{book}{juergen.contact_id}.vcf") == before[juergen.contact_id]
    assert await etag(dav, f"{book}{alice.contact_id}.vcf") != before[alice.contact_id]
    assert "Queen of Hearts' adviser" in (await dav.get(f"{book}{alice.contact_id}.vcf")).text


async def test_delete_removes_only_our_cards_and_count_follows(
    book: str, http: httpx.AsyncClient, radicale_server: RadicaleServer, dav: httpx.AsyncClient
) -> None:
    records = records_from_corpus("alice-liddell-v3.vcf", "juergen-gross-v3-qp.vcf")
    target = destination(book, radicale_server, http)
    await target.upsert(records)
    # A card a person keeps in the same book, at a name we might compute: not ours.
    await upload(dav, book, "dave-lister-v3-photo-url.vcf", href="frank.vcf")
    assert await target.count() == 2

    result = await target.delete(["alice-liddell-v3", "frank", "never-written"])

    assert result.deleted == 1
    assert (await dav.get(f"{book}alice-liddell-v3.vcf")).status_code == 404
    assert (await dav.get(f"{book}frank.vcf")).status_code == 200
    assert await target.count() == 1
    assert (await target.delete(["alice-liddell-v3"])).deleted == 0


def racing_client(
    dav: httpx.AsyncClient, book: str, card_id: str, times: int, statuses: list[int]
) -> httpx.AsyncClient:
    """A client whose PUTs to ``card_id`` are preceded, ``times`` times, by another writer's
    change to that card: the etag moves between our read and our write. The statuses of
    our PUTs are appended to ``statuses``."""
    remaining = [times]
    url = f"{book}{card_id}.vcf"

    async def change() -> None:
        current = await dav.get(url)
        text = (
            f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{card_id}\r\n"
            f"FN:Someone Else {remaining[0]}\r\nEND:VCARD\r\n"
        )
        headers = (
            VCARD if current.status_code == 404 else {**VCARD, "If-Match": current.headers["etag"]}
        )
        assert (await dav.put(url, content=text, headers=headers)).is_success

    async def hook(request: httpx.Request) -> None:
        if (
            request.method == "PUT"
            and request.url.path.endswith(f"/{card_id}.vcf")
            and remaining[0]
        ):
            remaining[0] -= 1
            await change()

    async def record(response: httpx.Response) -> None:
        if response.request.method == "PUT":
            statuses.append(response.status_code)

    return httpx.AsyncClient(timeout=10.0, event_hooks={"request": [hook], "response": [record]})


async def test_update_racing_another_writer_is_reread_and_written_once_more(
    book: str, radicale_server: RadicaleServer, dav: httpx.AsyncClient
) -> None:
    (alice,) = records_from_corpus("alice-liddell-v3.vcf")
    async with httpx.AsyncClient(timeout=10.0) as plain:
        await destination(book, radicale_server, plain).upsert([alice])
    newer = Record(alice.contact_id, {**alice.fields, F.TITLE: "Duchess"})

    statuses: list[int] = []
    async with racing_client(dav, book, alice.contact_id, 1, statuses) as racing:
        result = await destination(book, radicale_server, racing).upsert([newer])

    assert (result.created, result.updated) == (0, 1)
    assert statuses[0] == 412
    assert statuses[1] in (201, 204)
    assert len(statuses) == 2
    text = (await dav.get(f"{book}{alice.contact_id}.vcf")).text
    written = parse_vcard(text, EVERYTHING, source="b", item_id="a")
    assert dict(written.fields) == dict(newer.fields)


async def test_create_racing_another_writer_becomes_an_update(
    book: str, radicale_server: RadicaleServer, dav: httpx.AsyncClient
) -> None:
    (alice,) = records_from_corpus("alice-liddell-v3.vcf")
    statuses: list[int] = []
    async with racing_client(dav, book, alice.contact_id, 1, statuses) as racing:
        result = await destination(book, radicale_server, racing).upsert([alice])

    assert (result.created, result.updated) == (0, 1)
    assert statuses[0] == 412
    assert statuses[1] in (201, 204)
    assert len(statuses) == 2
    assert "Alice Liddell" in (await dav.get(f"{book}{alice.contact_id}.vcf")).text


async def test_write_that_keeps_racing_raises_destination_conflict(
    book: str, radicale_server: RadicaleServer, dav: httpx.AsyncClient
) -> None:
    (alice,) = records_from_corpus("alice-liddell-v3.vcf")
    statuses: list[int] = []
    async with racing_client(dav, book, alice.contact_id, 5, statuses) as racing:
        with pytest.raises(DestinationConflict, match="changed concurrently") as caught:
            await destination(book, radicale_server, racing).upsert([alice])
    assert statuses == [412, 412]
    assert isinstance(caught.value, DestinationUnavailable)
    assert "Alice" not in str(caught.value)


async def test_unreachable_destination_raises_destination_unavailable(
    http: httpx.AsyncClient,
) -> None:
    url = f"http://127.0.0.1:{free_port()}/contactsync/book/"
    target = CardDavDestination(url, name="down", credentials=None, client=http)
    (alice,) = records_from_corpus("alice-liddell-v3.vcf")
    with pytest.raises(DestinationUnavailable):
        await target.upsert([alice])
    with pytest.raises(DestinationUnavailable):
        await target.delete(["alice-liddell-v3"])
    with pytest.raises(DestinationUnavailable):
        await target.count()
