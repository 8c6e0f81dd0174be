"""A slow CardDAV server: a reverse proxy in front of Radicale that waits ``latency``
seconds before passing each request on, and drops the cards from sync-collection reports.

The wait models a server across a WAN; dropping ``address-data`` from what a
sync-collection asks for models a server that lists changes without their cards, so the
source asks for each page's cards by addressbook-multiget (RFC 6352 §8.7). That makes a
page's reading I/O of its own, which pages worked at once can overlap.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field

import defusedxml.ElementTree as defused
from aiohttp import ClientSession, ClientTimeout, web

_DAV = "DAV:"
_CARDDAV = "urn:ietf:params:xml:ns:carddav"
SYNC_COLLECTION = f"{{{_DAV}}}sync-collection"
MULTIGET = f"{{{_CARDDAV}}}addressbook-multiget"
_ADDRESS_DATA = f"{{{_CARDDAV}}}address-data"
# Set by the transport, not passed through: the proxy reads and sends whole bodies.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "content-encoding",
        "content-length",
        "host",
        "keep-alive",
        "transfer-encoding",
    }
)


def report_kind(body: bytes) -> str:
    """The REPORT's root element (``sync-collection``, ``addressbook-multiget``, ...)."""
    try:
        root = defused.fromstring(body, forbid_dtd=True)
    except ET.ParseError:
        return "unreadable"
    return str(root.tag).rpartition("}")[2]


def without_cards(body: bytes) -> tuple[bytes, bool]:
    """A sync-collection body with every ``address-data`` it asks for removed, and whether
    there was one. Parsed, so any prefix, ``<C:address-data/>`` or ``<address-data
    xmlns=...></address-data>``, with or without a partial-retrieval ``prop`` inside, is
    found. Any other body comes back as it is."""
    try:
        root = defused.fromstring(body, forbid_dtd=True)
    except ET.ParseError:
        return body, False
    if root.tag != SYNC_COLLECTION:
        return body, False
    stripped = False
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag == _ADDRESS_DATA:
                parent.remove(child)
                stripped = True
    if not stripped:
        return body, False
    return ET.tostring(root, encoding="utf-8", xml_declaration=True), True


@dataclass(frozen=True)
class Traffic:
    """What passed the proxy since it was last asked."""

    requests: dict[str, int]  # by kind: method, or the REPORT's root element
    most_in_flight: int  # requests in the proxy at once, at most


@dataclass
class LatencyProxy:
    """Forwards every request to ``upstream`` after ``latency`` seconds; counts what passed."""

    upstream: str  # scheme://host:port of the real server
    latency: float
    _counts: Counter[str] = field(default_factory=Counter)
    _in_flight: int = 0
    _most_in_flight: int = 0
    _session: ClientSession | None = None

    def take(self) -> Traffic:
        """The traffic since the last call; counting starts again."""
        traffic = Traffic(dict(self._counts), self._most_in_flight)
        self._counts.clear()
        self._most_in_flight = self._in_flight
        return traffic

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        kind = request.method
        if request.method == "REPORT":
            kind = report_kind(body)
            body, stripped = without_cards(body)
            if stripped:
                kind += " (cards dropped)"
        self._counts[kind] += 1
        self._in_flight += 1
        self._most_in_flight = max(self._most_in_flight, self._in_flight)
        try:
            await asyncio.sleep(self.latency)
            return await self._forward(request, body)
        finally:
            self._in_flight -= 1

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        assert self._session is not None
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers
        ) as answer:
            content = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
            return web.Response(status=answer.status, body=content, headers=kept)

    async def start(self, port: int) -> web.AppRunner:
        """Listen on 127.0.0.1:``port``; clean up the runner returned to stop."""
        # A whole address book in one response can take a while; the caller times out.
        self._session = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=True)
        app = web.Application(client_max_size=256 * 2**20)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        app.on_cleanup.append(self._close)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()
