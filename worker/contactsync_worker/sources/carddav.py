"""CardDAV address book as a delta source: RFC 6578 sync-collection, then RFC 6352 multiget.

The checkpoint is the server's sync token. No token (or one the server refuses) means a
full read, reported as a snapshot; a token means only the changes since, plus removals.
Item ids are the cards' decoded hrefs; cards are minimized by vcard.parse_vcard as they
arrive, and a card that cannot be read is quarantined by href without its content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from contactsync_api.endpoints.carddav import CardDavSpec
from contactsync_api.errors import SOURCE_ERRORS, SourceUnavailable
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page, Quarantined
from contactsync_worker.contacts.vcard import MalformedVCard, parse_vcard
from contactsync_worker.webdav import (
    XML_HEADERS,
    ClientSource,
    Credentials,
    DavResponse,
    DavSession,
    Multistatus,
    dav_access,
    error_conditions,
    multiget_body,
    sync_collection_body,
)

MULTIGET_CHUNK = 100
_TRUNCATED = 507  # RFC 6578 §3.6: the request URI listed with 507 means "more to come"
_GONE = 404


class _TokenRefused(Exception):
    """The server no longer knows the sync token (RFC 6578 §3.2 DAV:valid-sync-token)."""


@dataclass(frozen=True)
class _RunState:
    """What a cursor carries between pages of one run: no contact data, only a token."""

    token: str
    snapshot: bool

    def dump(self) -> str:
        return json.dumps({"token": self.token, "snapshot": self.snapshot})

    @classmethod
    def load(cls, cursor: str) -> _RunState:
        try:
            data = json.loads(cursor)
            return cls(token=str(data["token"]), snapshot=bool(data["snapshot"]))
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
    ) -> None:
        self._name = name
        self._policy = policy
        self._dav = DavSession(url, client, credentials, SOURCE_ERRORS, f"CardDAV source {name!r}")

    @classmethod
    def from_spec(cls, name: str, spec: CardDavSpec, context: AdapterContext) -> CardDavSource:
        """The source a region's configuration declares (the ``carddav`` source kind)."""
        login, client = dav_access(spec, context)
        return cls(spec.url, context.policy, name=name, credentials=login, client=client)

    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        state = (
            _RunState.load(cursor)
            if cursor
            else _RunState(token=checkpoint or "", snapshot=not checkpoint)
        )
        try:
            listing = await self._sync_collection(state.token)
        except _TokenRefused:
            # The server forgot (or never issued) the token: read everything again and say
            # so, so the pipeline diffs against what it holds instead of trusting a delta.
            state = _RunState(token="", snapshot=True)
            listing = await self._sync_collection("")
        return await self._page(listing, state)

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        cards = await self._multiget(item_ids)
        return cards.contacts

    async def aclose(self) -> None:
        await self._dav.aclose()

    async def _page(self, listing: Multistatus, state: _RunState) -> Page:
        truncated = False
        changed: list[str] = []
        removed: list[str] = []
        for response in listing.responses:
            if response.status == _TRUNCATED:
                truncated = True
            elif response.href.rstrip("/") == self._dav.path.rstrip("/"):
                continue  # the collection itself is no member
            elif response.status == _GONE:
                removed.append(response.href)
            else:
                changed.append(response.href)
        if not listing.sync_token:
            raise SourceUnavailable(f"{self._dav.label}: sync-collection returned no sync token")
        cards = await self._multiget(changed)
        page = Page(
            contacts=cards.contacts,
            removed=removed + cards.missing,
            quarantined=cards.quarantined,
            snapshot=state.snapshot,
        )
        if truncated:
            page.cursor = _RunState(listing.sync_token, state.snapshot).dump()
        else:
            page.complete = True
            page.checkpoint = listing.sync_token
        return page

    async def _sync_collection(self, token: str) -> Multistatus:
        response = await self._dav.request(
            "REPORT",
            body=sync_collection_body(token),
            headers={**XML_HEADERS, "Depth": "0"},
        )
        if response.status_code == 207:
            return self._dav.multistatus(response)
        if (
            token
            and response.status_code in (400, 403, 409, 412)
            and "valid-sync-token" in error_conditions(response.content)
        ):
            raise _TokenRefused
        self._dav.fail(response, "sync-collection")

    async def _multiget(self, hrefs: Sequence[str]) -> _Cards:
        cards = _Cards([], [], [])
        for chunk in _chunks(hrefs, MULTIGET_CHUNK):
            result = await self._dav.report(multiget_body(chunk), depth="0")
            answered = {response.href for response in result.responses}
            # Parsing is CPU work: in a thread, so the event loop keeps heartbeating and
            # answering probes however large the cards are.
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
