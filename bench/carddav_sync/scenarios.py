"""The scenarios, each tool run after the other and the order swapped run by run, all
against the same warm Radicale: a full sync from nothing, a sync with nothing changed, and a
sync after 1% of the cards changed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.carddav_sync import book, measure
from bench.carddav_sync.contactsync import ContactSyncRun, history_events
from bench.carddav_sync.vdirsyncer import VdirsyncerRun

VDIRSYNCER = "vdirsyncer"
CONTACTSYNC = "contactsync"
TOOLS = (VDIRSYNCER, CONTACTSYNC)
FULL, NO_CHANGE, ONE_PERCENT = "full", "no-change", "1% changed"
SCENARIOS = (FULL, NO_CHANGE, ONE_PERCENT)
CHANGED_PERCENT = 1.0
_ALL_CARDS = (
    '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/>'
    "</D:prop></C:addressbook-query>"
)
_SYNC_COLLECTION = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"
)


@dataclass(frozen=True)
class Sample:
    tool: str
    scenario: str
    run: int
    seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    radicale_cpu_seconds: float
    # ContactSync only: the workflow alone, the process's time before it, its history.
    sync_seconds: float | None = None
    imports_seconds: float | None = None
    history_events: int | None = None
    # What the tool wrote: vdirsyncer's files, ContactSync's created + updated.
    written: int | None = None


@dataclass
class Bench:
    book_url: str
    cards: int
    seed: int
    radicale_pid: int
    temporal_address: str
    repo: Path
    log: Path
    vdirsyncer: VdirsyncerRun
    contactsync: ContactSyncRun
    dav_credentials: tuple[str, str]

    def run_vdirsyncer(self, scenario: str, run: int) -> Sample:
        tool = self.vdirsyncer
        actions = ["sync"]
        if scenario == FULL:
            tool.reset(self.book_url, *self.dav_credentials)
            actions = ["discover", "sync"]
        parts = [
            measure.run(
                tool.argv(action),
                env=tool.env(),
                cwd=tool.root,
                server_pid=self.radicale_pid,
                log=self.log,
            )
            for action in actions
        ]
        return Sample(
            VDIRSYNCER,
            scenario,
            run,
            seconds=sum(p.seconds for p in parts),
            cpu_seconds=sum(p.cpu_seconds for p in parts),
            peak_rss_mib=max(p.peak_rss_mib for p in parts),
            radicale_cpu_seconds=sum(p.server_cpu_seconds for p in parts),
            written=tool.cards(),
        )

    def run_contactsync(self, scenario: str, run: int) -> Sample:
        tool = self.contactsync
        if scenario == FULL:
            tool.reset(self.book_url)
        workflow_id = tool.next_workflow_id()
        measured = measure.run(
            tool.argv(),
            env=tool.env(workflow_id),
            cwd=self.repo,
            server_pid=self.radicale_pid,
            log=self.log,
        )
        result = json.loads(measured.stdout)
        summary = result["summary"]
        return Sample(
            CONTACTSYNC,
            scenario,
            run,
            seconds=measured.seconds,
            cpu_seconds=measured.cpu_seconds,
            peak_rss_mib=measured.peak_rss_mib,
            radicale_cpu_seconds=measured.server_cpu_seconds,
            sync_seconds=result["sync_seconds"],
            imports_seconds=result["imports_seconds"],
            history_events=history_events(self.temporal_address, workflow_id),
            written=summary["created"] + summary["updated"],
        )

    def warm_up(self, client: httpx.Client) -> None:
        """Read every card once, and list the book once by sync token, so Radicale's caches
        are as warm for the first run as for the last: its first sync-collection writes a
        history entry per card (~8 s of its CPU for 10,000 cards), once per book."""
        for query in (_ALL_CARDS, _SYNC_COLLECTION):
            response = client.request(
                "REPORT", self.book_url, content=query, headers={"Depth": "1"}, timeout=600
            )
            response.raise_for_status()

    def run_all(self, client: httpx.Client, runs: int, say: Callable[[str], None]) -> list[Sample]:
        samples: list[Sample] = []
        run_tool = {VDIRSYNCER: self.run_vdirsyncer, CONTACTSYNC: self.run_contactsync}
        changed: list[int] = []
        for run in range(1, runs + 1):
            order = TOOLS if run % 2 else TOOLS[::-1]
            for scenario in SCENARIOS:
                if scenario == ONE_PERCENT:
                    changed = book.changed_indexes(self.cards, self.seed, run, CHANGED_PERCENT)
                    book.change(client, self.book_url, changed, self.seed, revision=run)
                for tool in order:
                    sample = run_tool[tool](scenario, run)
                    self.check(sample, changed)
                    samples.append(sample)
                    say(
                        f"run {run}/{runs} {scenario:>10} {tool:>11}: {sample.seconds:7.2f} s, "
                        f"{sample.peak_rss_mib:6.1f} MiB, Radicale CPU "
                        f"{sample.radicale_cpu_seconds:5.2f} s"
                    )
        return samples

    def check(self, sample: Sample, changed: list[int]) -> None:
        """A fast run that did not do the work would be a wrong figure: stop instead."""
        if sample.tool == VDIRSYNCER:
            expected = self.cards  # the mirror holds the whole book after every sync
        else:
            expected = {FULL: self.cards, NO_CHANGE: 0}.get(sample.scenario, len(changed))
        if sample.written != expected:
            print(f"{sample}: wrote {sample.written}, expected {expected}", file=sys.stderr)
            raise RuntimeError(f"{sample.tool} {sample.scenario}: wrong result, see above")
