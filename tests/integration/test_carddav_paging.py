"""The CardDAV source pages a book against a real Radicale: one report brings the cards, the
pages are bounded, and a cursor carries no href and survives a change of worker."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from contactsync_api.errors import CursorExpired
from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldPolicy, Page
from contactsync_worker.contacts.typed import texts
from contactsync_worker.sources.carddav import CardDavSource
from tests.servers.radicale import RadicaleServer

pytestmark = pytest.mark.carddav

POLICY = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS}))
VCARD = {"Content-Type": "text/vcard; charset=utf-8"}


def card(number: int, email: str | None = None) -> str:
    return (
        "BEGIN:VCARD\r\nVERSION:3.0\r\n"
        f"UID:paging-{number}\r\nFN:Person {number}\r\n"
        f"EMAIL:{email or f'person{number}@example.org'}\r\nEND:VCARD\r\n"
    )


class Reports:
    """Which reports a client sent: what the source asked of the server, observed."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def __call__(self, request: httpx.Request) -> None:
        if request.method == "REPORT":
            body = request.content
            self.sent.append(
                "sync-collection" if b"sync-collection" in body else "addressbook-multiget"
            )


class ListingWithoutCards(httpx.AsyncHTTPTransport):
    """Radicale as a server that does not send cards in a sync-collection report: the
    request reaches it without asking for them."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        if b"sync-collection" in body:
            body = body.replace(b"<C:address-data />", b"")
            request = httpx.Request(
                request.method, request.url, headers=request.headers, content=body
            )
            request.headers["Content-Length"] = str(len(body))
        return await super().handle_async_request(request)


@pytest.fixture
def book(radicale_server: RadicaleServer) -> str:
    return radicale_server.create_addressbook()


@pytest.fixture
async def dav(radicale_server: RadicaleServer) -> AsyncIterator[httpx.AsyncClient]:
    auth = (radicale_server.username, radicale_server.password)
    async with httpx.AsyncClient(auth=auth, timeout=10.0) as client:
        yield client


async def put(dav: httpx.AsyncClient, book: str, number: int, email: str | None = None) -> str:
    url = f"{book}person-{number}.vcf"
    response = await dav.put(url, content=card(number, email), headers=VCARD)
    assert response.is_success, response.text
    return urlsplit(url).path


async def fill(dav: httpx.AsyncClient, book: str, count: int) -> set[str]:
    return {await put(dav, book, n) for n in range(count)}


def source(
    server: RadicaleServer,
    book: str,
    reports: Reports,
    page_size: int = 3,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CardDavSource:
    client = httpx.AsyncClient(
        timeout=10.0, event_hooks={"request": [reports]}, transport=transport
    )
    return CardDavSource(
        book,
        POLICY,
        name="book",
        credentials=(server.username, server.password),
        client=lambda: client,
        page_size=page_size,
    )


async def every_page(adapter: CardDavSource, checkpoint: str | None = None) -> list[Page]:
    pages = [await adapter.fetch(None, checkpoint)]
    while not pages[-1].complete:
        pages.append(await adapter.fetch(pages[-1].cursor, None))
    return pages


async def test_a_full_read_is_one_report_in_bounded_pages_and_commits_at_the_end(
    radicale_server: RadicaleServer, book: str, dav: httpx.AsyncClient
) -> None:
    hrefs = await fill(dav, book, 7)
    reports = Reports()
    adapter = source(radicale_server, book, reports)
    try:
        pages = await every_page(adapter)
    finally:
        await adapter.aclose()

    assert [len(p.contacts) for p in pages] == [3, 3, 1]
    assert {c.item_id for p in pages for c in p.contacts} == hrefs
    assert all(p.snapshot for p in pages)
    assert [p.checkpoint is not None for p in pages] == [False, False, True]
    assert reports.sent == ["sync-collection"]  # the cards came with the listing
    for page in pages[:-1]:
        assert page.cursor is not None
        assert "person" not in page.cursor
        assert ".vcf" not in page.cursor
        assert set(json.loads(page.cursor)) == {"token", "snapshot", "listing", "page"}


async def test_another_worker_continues_a_run_from_its_cursor(
    radicale_server: RadicaleServer, book: str, dav: httpx.AsyncClient
) -> None:
    await fill(dav, book, 5)
    first, second = Reports(), Reports()
    one = source(radicale_server, book, first)
    other = source(radicale_server, book, second)
    try:
        start = await one.fetch(None, None)
        assert start.cursor is not None
        by_one = await one.fetch(start.cursor, None)
        by_other = await other.fetch(start.cursor, None)
    finally:
        await one.aclose()
        await other.aclose()

    assert [c.item_id for c in by_other.contacts] == [c.item_id for c in by_one.contacts]
    assert by_other.checkpoint == by_one.checkpoint is not None
    assert first.sent == ["sync-collection"]  # it held its listing for the second page
    assert second.sent == ["sync-collection"]  # it had to ask for the listing again


async def test_a_book_changed_mid_run_expires_the_cursor_for_a_worker_without_the_listing(
    radicale_server: RadicaleServer, book: str, dav: httpx.AsyncClient
) -> None:
    await fill(dav, book, 5)
    one = source(radicale_server, book, Reports())
    other = source(radicale_server, book, Reports())
    try:
        start = await one.fetch(None, None)
        assert start.cursor is not None
        await put(dav, book, 2, email="changed@example.org")

        with pytest.raises(CursorExpired, match="changed during the run"):
            await other.fetch(start.cursor, None)
        # The worker holding the listing finishes it: a consistent snapshot, and the change
        # is after its sync token, so the next run reads it.
        rest = await one.fetch(start.cursor, None)
        assert rest.complete
        assert rest.checkpoint is not None
        delta = await every_page(one, rest.checkpoint)
    finally:
        await one.aclose()
        await other.aclose()

    [changed] = [c for p in delta for c in p.contacts]
    assert texts(changed.fields[F.EMAILS]) == ("changed@example.org",)


async def test_an_incremental_read_pages_the_changes_and_the_removals(
    radicale_server: RadicaleServer, book: str, dav: httpx.AsyncClient
) -> None:
    await fill(dav, book, 6)
    adapter = source(radicale_server, book, Reports(), page_size=2)
    try:
        full = await every_page(adapter)
        checkpoint = full[-1].checkpoint
        changed = {await put(dav, book, n, email=f"new{n}@example.org") for n in (0, 1, 2)}
        gone = f"{book}person-5.vcf"
        assert (await dav.delete(gone)).is_success
        delta = await every_page(adapter, checkpoint)
    finally:
        await adapter.aclose()

    assert len(delta) == 2
    assert all(not p.snapshot for p in delta)
    assert {c.item_id for p in delta for c in p.contacts} == changed
    assert [r for p in delta for r in p.removed] == [urlsplit(gone).path]


async def test_a_server_that_lists_without_cards_is_asked_for_them_a_page_at_a_time(
    radicale_server: RadicaleServer, book: str, dav: httpx.AsyncClient
) -> None:
    hrefs = await fill(dav, book, 5)
    reports = Reports()
    adapter = source(radicale_server, book, reports, transport=ListingWithoutCards())
    try:
        pages = await every_page(adapter)
    finally:
        await adapter.aclose()

    assert [len(p.contacts) for p in pages] == [3, 2]
    assert {c.item_id for p in pages for c in p.contacts} == hrefs
    assert all(p.quarantined == [] for p in pages)
    assert reports.sent == ["sync-collection", "addressbook-multiget", "addressbook-multiget"]
