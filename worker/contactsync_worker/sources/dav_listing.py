"""What one sync-collection report listed, kept sealed on disk and read back a page at a time.

The report asks for each member's card with its etag, so a whole address book arrives in
one response instead of a listing and a hundred multigets. The body is read as it arrives
(``contactsync_worker.multistatus``) and each member is written to a sealed spool
(``sources.spool``) as one JSON line: the worker holds where each page starts, never the
book. Pages are then read back from the spool; the same listing always gives the same
pages, which is what lets a page be read again after a retry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import islice

from contactsync_worker.multistatus import DavResponse, MultistatusReader
from contactsync_worker.sources.spool import Spool

TRUNCATED = 507  # RFC 6578 §3.6: the request URI listed with 507 means "more to come"


@dataclass
class DavListing:
    """The members of one report, in the order the server listed them."""

    token: str  # the sync token the report was asked from ("": a full listing)
    sync_token: str  # the token the server gave: where the next report starts
    truncated: bool  # the server has more changes than it listed: report again from sync_token
    count: int
    spool: Spool
    page_size: int
    page_starts: list[int]  # spool offset of member number k * page_size

    @property
    def digest(self) -> str:
        """What was listed, as a digest: a listing read again compares equal only if the
        server listed exactly the same members, cards and order."""
        return self.spool.digest

    @property
    def pages(self) -> int:
        return -(-self.count // self.page_size)

    def page(self, index: int) -> list[DavResponse]:
        """The members of page ``index`` (none past the end)."""
        if index >= len(self.page_starts):
            return []
        with self.spool.reader(self.page_starts[index]) as stream:
            return [_load(line) for line in islice(stream, self.page_size)]

    def close(self) -> None:
        self.spool.close()


@dataclass
class ListingWriter:
    """The sink a report's body is fed to (``DavSession.request``); :meth:`finish` makes
    the listing. The collection itself, when listed, is no member."""

    token: str
    collection_path: str
    page_size: int
    _reader: MultistatusReader = field(default_factory=MultistatusReader)
    _spool: Spool = field(default_factory=Spool)
    _count: int = 0
    _truncated: bool = False
    _page_starts: list[int] = field(default_factory=list)

    def __call__(self, chunk: bytes) -> None:
        for response in self._reader.feed(chunk):
            self._add(response)

    def finish(self) -> DavListing:
        """The listing, once the whole body has been fed; its sync token is empty if the
        server gave none (the caller decides what that means)."""
        for response in self._reader.close():
            self._add(response)
        self._spool.finish()
        return DavListing(
            token=self.token,
            sync_token=self._reader.sync_token or "",
            truncated=self._truncated,
            count=self._count,
            spool=self._spool,
            page_size=self.page_size,
            page_starts=self._page_starts,
        )

    def discard(self) -> None:
        self._spool.close()

    def _add(self, response: DavResponse) -> None:
        if response.status == TRUNCATED:
            self._truncated = True
            return
        if response.href.rstrip("/") == self.collection_path.rstrip("/"):
            return
        if self._count % self.page_size == 0:
            self._page_starts.append(self._spool.size)
        self._spool.write(_dump(response))
        self._count += 1


def _dump(response: DavResponse) -> bytes:
    # JSON escapes the line breaks of a card: one member, one line.
    member = [response.href, response.status, response.etag, response.address_data]
    return json.dumps(member, ensure_ascii=False).encode("utf-8") + b"\n"


def _load(line: bytes) -> DavResponse:
    href, status, etag, data = json.loads(line)
    return DavResponse(href, status, etag, data)
