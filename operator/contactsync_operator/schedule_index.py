"""The ids of the operator's schedules in each Temporal namespace, listed once for many
reconciles.

Temporal lists schedules only whole: a namespace's every schedule, page by page. Each
reconcile needs the ids under its own resource's prefix (to delete those the spec no longer
declares), so listing per reconcile costs O(N) each and O(N²) per resync over N ContactSyncs;
at a few hundred the listings pile up behind each other and time out. Here a reconcile says
how old a listing it accepts: a timer tick accepts one from within its resync period, a spec
change or a start accepts only one begun after it asked. Reconciles that wait together share
the next listing. Schedules are still described by id on every reconcile, so a schedule
deleted by hand is seen at once; only leftovers are found up to one period late.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from temporalio.client import Client

from contactsync_operator import naming
from contactsync_operator import temporal as temporal_io

Lister = Callable[[Client], Awaitable[set[str]]]


async def operator_schedules(client: Client) -> set[str]:
    """Every schedule id the operator may have made in the client's namespace."""
    return await temporal_io.list_schedule_ids(client, f"{naming.PREFIX}/")


@dataclass(frozen=True)
class _Listing:
    started: float
    ids: frozenset[str]


@dataclass
class ScheduleIndex:
    lister: Lister = operator_schedules
    clock: Callable[[], float] = time.monotonic
    _listings: dict[str, _Listing] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    # Schedules the operator deleted, and when: a listing begun before that still has them.
    _deleted: dict[str, dict[str, float]] = field(default_factory=dict)

    async def ids(self, client: Client, prefix: str, max_age: float) -> set[str]:
        """Ids under ``prefix`` in the client's namespace, from a listing begun no more than
        ``max_age`` seconds before this call (0: after it). Raises TemporalUnavailable."""
        namespace = client.namespace
        not_before = self.clock() - max_age
        async with self._locks.setdefault(namespace, asyncio.Lock()):
            listing = self._listings.get(namespace)
            if listing is None or listing.started < not_before:
                started = self.clock()
                listing = _Listing(started, frozenset(await self.lister(client)))
                self._listings[namespace] = listing
                self._prune(namespace, started)
        deleted = self._deleted.get(namespace, {})
        return {
            i
            for i in listing.ids
            if i.startswith(prefix) and deleted.get(i, float("-inf")) < listing.started
        }

    def forget(self, namespace: str, schedule_id: str) -> None:
        """The operator deleted ``schedule_id``: listings begun before now no longer have it."""
        self._deleted.setdefault(namespace, {})[schedule_id] = self.clock()

    def _prune(self, namespace: str, started: float) -> None:
        deleted = self._deleted.get(namespace, {})
        for schedule_id in [i for i, when in deleted.items() if when < started]:
            del deleted[schedule_id]
