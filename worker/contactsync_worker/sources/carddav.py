"""CardDAV address book as a delta source: RFC 6578 sync-collection, with the cards.

The checkpoint is the server's sync token. No token (or one the server refuses) means a
full read, reported as a snapshot; a token means only the changes since, plus removals.
The report asks for each changed card with its etag, so a whole book arrives in one
response; it is read as it arrives into a sealed listing on disk (``sources.dav_listing``)
and handed out in pages of ``page_size`` members, so memory does not grow with the book.
A server that leaves the cards out of the report is asked for them by RFC 6352 multiget,
a page at a time.

The cursor names the token the listing was asked from, the listing's digest and the next
page: no contact data, not even an href. A worker that does not hold that listing (another
replica, a restart) asks for it again; if the server now lists anything else, the book
changed during the run and :class:`CursorExpired` restarts it, since pages of two listings
could skip or repeat members.

Item ids are the cards' decoded hrefs; cards are minimized by vcard.parse_vcard as they
are paged, and a card that cannot be read is quarantined by href without its content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from contactsync_api import runtime
from contactsync_api.endpoints.carddav import CardDavSpec
from contactsync_api.errors import SOURCE_ERRORS, CursorExpired, SourceUnavailable
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page, Quarantined
from contactsync_worker.contacts.vcard import MalformedVCard, parse_vcard
from contactsync_worker.multistatus import DavResponse, InvalidDavResponse
from contactsync_worker.sources.dav_listing import DavListing, ListingWriter
from contactsync_worker.webdav import (
    XML_HEADERS,
    ClientSource,
    Credentials,
    DavSession,
    dav_access,
    error_conditions,
    multiget_body,
    sync_collection_body,
)

PAGE_SIZE = 500
MULTIGET_CHUNK = 100
_GONE = 404


class _TokenRefused(Exception):
    """The server no longer knows the sync token (RFC 6578 §3.2 DAV:valid-sync-token)."""


@dataclass(frozen=True)
class _Cursor:
    """Where a run stands in a source: no contact data, only tokens, a digest and a number."""

    token: str  # the sync token the listing is asked from ("": everything)
    snapshot: bool  # the run lists the whole book
    listing: str = ""  # the digest of the listing being paged; "": ask for a new one
    page: int = 0  # the next page of that listing

    def dump(self) -> str:
        return json.dumps(
            {
                "token": self.token,
                "snapshot": self.snapshot,
                "listing": self.listing,
                "page": self.page,
            }
        )

    @classmethod
    def load(cls, cursor: str) -> _Cursor:
        try:
            data = json.loads(cursor)
            return cls(
                token=str(data["token"]),
                snapshot=bool(data["snapshot"]),
                listing=str(data.get("listing", "")),
                page=int(data.get("page", 0)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError("not a CardDAV source cursor") from exc


@dataclass
class _Cards:
    contacts: list[Contact]
    quarantined: list[Quarantined]
    missing: list[str]  # listed as changed, 404 by the time we asked for it


class CardDavSource:
    """A CardDAV address book collection read incrementally (SourceAdapter)."""

    def __init__(
        self,
        url: str,
        policy: FieldPolicy,
        *,
        name: str,
        credentials: Credentials | None,
        client: ClientSource,
        page_size: int = PAGE_SIZE,
        max_listing_bytes: int = runtime.CARDDAV_LISTING_MAX_BYTES,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self._name = name
        self._policy = policy
        self._page_size = page_size
        self._max_listing_bytes = max_listing_bytes
        self._dav = DavSession(url, client, credentials, SOURCE_ERRORS, f"CardDAV source {name!r}")
        self._listing: DavListing | None = None
        self._lock = asyncio.Lock()  # one listing, replaced and closed by one call at a time

    @classmethod
    def from_spec(cls, name: str, spec: CardDavSpec, context: AdapterContext) -> CardDavSource:
        """The source a region's configuration declares (the ``carddav`` source kind)."""
        login, client = dav_access(spec, context)
        return cls(spec.url, context.policy, name=name, credentials=login, client=client)

    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        state = (
            _Cursor.load(cursor)
            if cursor
            else _Cursor(token=checkpoint or "", snapshot=not checkpoint)
        )
        async with self._lock:
            listing, state = await self._listing_for(state)
            responses = await asyncio.to_thread(listing.page, state.page)
            page = self._where_next(listing, state)
        # The cards are read outside the lock: pages of one listing worked at once by this
        # worker parse and ask for cards side by side.
        return await self._fill(page, responses)

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        cards = await self._multiget(item_ids)
        return cards.contacts

    async def aclose(self) -> None:
        async with self._lock:
            self._hold(None)
        await self._dav.aclose()

    async def _listing_for(self, state: _Cursor) -> tuple[DavListing, _Cursor]:
        """The listing ``state`` pages through: the one held, or the server's now."""
        held = self._listing
        if state.listing and held and (held.token, held.digest) == (state.token, state.listing):
            return held, state
        try:
            listing = await self._list(state.token)
        except _TokenRefused:
            if state.listing:
                raise self._changed() from None
            # The server forgot (or never issued) the token: read everything again and say
            # so, so the pipeline diffs against what it holds instead of trusting a delta.
            state = _Cursor(token="", snapshot=True)
            listing = await self._list("")
        if state.listing and listing.digest != state.listing:
            listing.close()
            raise self._changed()
        self._hold(listing)
        return listing, state

    def _changed(self) -> CursorExpired:
        return CursorExpired(
            f"{self._dav.label}: the address book changed during the run; start the run again"
        )

    def _hold(self, listing: DavListing | None) -> None:
        if self._listing is not None and self._listing is not listing:
            self._listing.close()
        self._listing = listing

    def _where_next(self, listing: DavListing, state: _Cursor) -> Page:
        """A page of ``listing`` without its cards yet: where the run goes on after it."""
        page = Page(snapshot=state.snapshot)
        following = state.page + 1
        if state.page == 0:
            page.fanout = [
                replace(state, listing=listing.digest, page=n).dump()
                for n in range(following, listing.pages)
            ]
        if following < listing.pages:
            page.cursor = replace(state, listing=listing.digest, page=following).dump()
        elif listing.truncated:
            page.cursor = _Cursor(listing.sync_token, state.snapshot).dump()
        else:
            page.complete = True
            page.checkpoint = listing.sync_token
        return page

    async def _fill(self, page: Page, responses: list[DavResponse]) -> Page:
        """The page's cards: parsed from the listing, or asked for where it had none."""
        present = [r for r in responses if r.status != _GONE]
        cards = _Cards([], [], [])
        # Parsing is CPU work: in a thread, so the event loop keeps heartbeating and
        # answering probes however large the cards are.
        await asyncio.to_thread(
            self._read_cards, [r for r in present if r.address_data is not None], cards
        )
        left_out = [r.href for r in present if r.address_data is None]
        if left_out:  # a server that lists changes without their cards
            fetched = await self._multiget(left_out)
            cards.contacts += fetched.contacts
            cards.quarantined += fetched.quarantined
            cards.missing += fetched.missing
        page.contacts = cards.contacts
        page.removed = [r.href for r in responses if r.status == _GONE] + cards.missing
        page.quarantined = cards.quarantined
        return page

    async def _list(self, token: str) -> DavListing:
        """One sync-collection report from ``token``, read into a listing as it arrives."""
        writer = ListingWriter(token, self._dav.path, self._page_size)
        try:
            response = await self._dav.request(
                "REPORT",
                body=sync_collection_body(token, with_cards=True),
                headers={**XML_HEADERS, "Depth": "0"},
                sink=writer,
                max_bytes=self._max_listing_bytes,
            )
            if response.status_code != 207:
                if (
                    token
                    and response.status_code in (400, 403, 409, 412)
                    and "valid-sync-token" in error_conditions(response.content)
                ):
                    raise _TokenRefused
                self._dav.fail(response, "sync-collection")
            listing = writer.finish()
        except InvalidDavResponse as exc:
            writer.discard()
            raise SourceUnavailable(f"{self._dav.label}: invalid response: {exc}") from exc
        except BaseException:
            writer.discard()
            raise
        if not listing.sync_token:
            listing.close()
            raise SourceUnavailable(f"{self._dav.label}: sync-collection returned no sync token")
        return listing

    async def _multiget(self, hrefs: Sequence[str]) -> _Cards:
        cards = _Cards([], [], [])
        for chunk in _chunks(hrefs, MULTIGET_CHUNK):
            result = await self._dav.report(multiget_body(chunk), depth="0")
            answered = {response.href for response in result.responses}
            await asyncio.to_thread(self._read_cards, result.responses, cards)
            # Only an explicit 404 is a removal; a card the server silently left out is set
            # aside, since a misbehaving server must never cause a delete downstream.
            cards.quarantined += [
                Quarantined(
                    self._name, href_reference(href), "not returned by addressbook-multiget"
                )
                for href in chunk
                if href not in answered
            ]
        return cards

    def _read_cards(self, responses: Sequence[DavResponse], cards: _Cards) -> None:
        for response in responses:
            self._read_card(response, cards)

    def _read_card(self, response: DavResponse, cards: _Cards) -> None:
        if response.status == _GONE:
            cards.missing.append(response.href)
            return
        if response.address_data is None:
            reason = f"no address data returned (HTTP {response.status or 'n/a'})"
            cards.quarantined.append(Quarantined(self._name, href_reference(response.href), reason))
            return
        try:
            contact = parse_vcard(
                response.address_data, self._policy, source=self._name, item_id=response.href
            )
        except MalformedVCard as exc:
            cards.quarantined.append(
                Quarantined(self._name, href_reference(response.href), str(exc))
            )
            return
        cards.contacts.append(contact)


def href_reference(href: str) -> str:
    """How a quarantined card is named in logs and the audit trail: a digest of its href, which
    often holds a person's name (``/books/erika-mustermann.vcf``). To find the card, hash the
    hrefs the server lists: ``printf %s HREF | sha256sum`` starts with the same 16 digits."""
    return "href-sha256:" + hashlib.sha256(href.encode("utf-8")).hexdigest()[:16]


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
