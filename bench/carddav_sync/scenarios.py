"""The scenarios, the tools run one after the other and their order rotated run by run, all
against the same warm Radicale: a full sync from nothing, a sync with nothing changed, and a
sync after 1% of the cards changed. Each tool keeps a state of its own."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

import httpx

from bench.carddav_sync import book
from bench.carddav_sync.sample import FULL, NO_CHANGE, ONE_PERCENT, VDIRSYNCER, Sample, Tool
from contactsync_worker.webdav import sync_collection_body

CHANGED_PERCENT = 1.0
ALL_CARDS = (
    '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/>'
    "</D:prop></C:addressbook-query>"
)
SYNC_COLLECTION = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


def warm_up(client: httpx.Client, book_url: str) -> float:
    """Read every card once, and list the book once by sync token, so Radicale's caches are
    as warm for the first run as for the last: it parses and caches each card the first time
    it is read (a book written as files), and its first sync-collection writes a history
    entry per card (~8 s of its CPU for 10,000 cards), once per book. Returns the seconds."""
    started = time.perf_counter()
    for query in (ALL_CARDS, SYNC_COLLECTION):
        response = client.request(
            "REPORT", book_url, content=query, headers={"Depth": "1"}, timeout=3600
        )
        response.raise_for_status()
    return time.perf_counter() - started


CTAG = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/">'
    "<D:prop><CS:getctag/></D:prop></D:propfind>"
)


def time_listing(client: httpx.Client, book_url: str) -> dict[str, float]:
    """How long Radicale takes to answer what a sync asks, which no client of it can go below:
    the report a full ContactSync read asks (every card with its etag, by sync-collection),
    until its first byte and its last; the report of a sync with nothing changed (the
    changes since the token the full one gave: none); and the collection's ctag, the
    cheapest question that tells whether anything changed."""
    started = time.perf_counter()
    with client.stream(
        "REPORT",
        book_url,
        content=sync_collection_body("", with_cards=True),
        headers={"Depth": "0"},
        timeout=3600,
    ) as response:
        response.raise_for_status()
        first_byte = time.perf_counter() - started
        body = b"".join(response.iter_bytes())
        on_the_wire = response.num_bytes_downloaded
    listing = time.perf_counter() - started
    # The benchmark's own Radicale on loopback answered: not untrusted input.
    token = ElementTree.fromstring(body).findtext("{DAV:}sync-token")  # noqa: S314
    if not token:
        raise RuntimeError("the listing carried no sync token")
    started = time.perf_counter()
    response = client.request(
        "REPORT",
        book_url,
        content=sync_collection_body(token, with_cards=True),
        headers={"Depth": "0"},
        timeout=3600,
    )
    response.raise_for_status()
    no_change = time.perf_counter() - started
    started = time.perf_counter()
    client.request(
        "PROPFIND", book_url, content=CTAG, headers={"Depth": "0"}, timeout=3600
    ).raise_for_status()
    return {
        "listing_first_byte_seconds": first_byte,
        "listing_seconds": listing,
        "listing_mib_on_the_wire": on_the_wire / 2**20,
        "no_change_report_seconds": no_change,
        "ctag_seconds": time.perf_counter() - started,
    }


@dataclass
class Bench:
    book_url: str
    cards: int
    seed: int
    tools: Sequence[Tool]
    scenarios: Sequence[str]  # besides the full sync, which every run starts with

    def run_all(self, client: httpx.Client, runs: int, say: Callable[[str], None]) -> list[Sample]:
        samples: list[Sample] = []
        changed: list[int] = []
        for run in range(1, runs + 1):
            shift = (run - 1) % len(self.tools)
            order = [*self.tools[shift:], *self.tools[:shift]]
            for scenario in (FULL, *(s for s in self.scenarios if s != FULL)):
                if scenario == ONE_PERCENT:
                    changed = book.changed_indexes(self.cards, self.seed, run, CHANGED_PERCENT)
                    book.change(client, self.book_url, changed, self.seed, revision=run)
                for tool in (t for t in order if scenario in t.scenarios):
                    if scenario == FULL:
                        tool.reset()
                    sample = tool.sync(scenario, run)
                    self.check(sample, changed)
                    samples.append(sample)
                    say(
                        f"run {run}/{runs} {scenario:>10} {tool.name:>11}: "
                        f"{sample.seconds:7.2f} s, {sample.peak_rss_mib:6.1f} MiB, "
                        f"Radicale CPU {sample.radicale_cpu_seconds:5.2f} s"
                    )
        return samples

    def check(self, sample: Sample, changed: list[int]) -> None:
        """A fast run that did not do the work would be a wrong figure: stop instead."""
        if sample.tool == VDIRSYNCER:
            expected = self.cards  # the copy holds the whole book after every sync
        else:
            expected = {FULL: self.cards, NO_CHANGE: 0}.get(sample.scenario, len(changed))
        if sample.written != expected:
            print(f"{sample}: wrote {sample.written}, expected {expected}", file=sys.stderr)
            raise RuntimeError(f"{sample.tool} {sample.scenario}: wrong result, see above")
