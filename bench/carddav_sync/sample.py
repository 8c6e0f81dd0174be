"""What one run of one tool in one scenario measured, and the names of tools and scenarios."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

FULL, NO_CHANGE, ONE_PERCENT = "full", "no-change", "1% changed"
SCENARIOS = (FULL, NO_CHANGE, ONE_PERCENT)

# The tools, in the order the tables list them.
VDIRSYNCER = "vdirsyncer"
ONE_SHOT = "contactsync"  # one process per sync, on the harness's Temporal dev server
DEPLOYED = "deployed"  # a long-lived worker; the sync started as a workflow
PLAIN = "plain"  # the same, worker and client without the payload codec (bench only)
FIRST_RUN = "first-run"  # one process that starts its own Temporal dev server, full sync only
TOOLS = (VDIRSYNCER, ONE_SHOT, DEPLOYED, PLAIN, FIRST_RUN)
LABELS = {
    VDIRSYNCER: "vdirsyncer 0.21.0, one-shot processes",
    ONE_SHOT: "ContactSync, one-shot process",
    DEPLOYED: "ContactSync, worker running (as deployed)",
    PLAIN: "ContactSync, worker running, no payload codec",
    FIRST_RUN: "ContactSync, one-shot with its own Temporal dev server",
}


@dataclass(frozen=True)
class Sample:
    tool: str
    scenario: str
    run: int
    # Wall time: a one-shot process from start to exit; a running worker from the workflow's
    # start to its result.
    seconds: float
    cpu_seconds: float  # of the tool's process (a running worker: during the sync only)
    peak_rss_mib: float  # its resident high-water mark (a running worker: during the sync)
    radicale_cpu_seconds: float
    # ContactSync only: the workflow alone, the process's time before it, its history.
    sync_seconds: float | None = None
    imports_seconds: float | None = None
    history_events: int | None = None
    # What the tool wrote: vdirsyncer's cards at the destination, ContactSync's created +
    # updated.
    written: int | None = None
    # A running worker's resident memory when the sync started.
    idle_rss_mib: float | None = None
    # The one-shot with its own dev server: the server's start, inside ``seconds``.
    server_start_seconds: float | None = None


class Tool(Protocol):
    """One way of syncing the book, with a state of its own."""

    name: str

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The ones it takes part in."""

    def reset(self) -> None:
        """Forget everything synced, so the next sync is a full one."""

    def sync(self, scenario: str, run: int) -> Sample:
        """One sync, measured."""

    def close(self) -> None:
        """Stop whatever it keeps running."""
