"""The schedule listing many reconciles share: a tick takes one from within its period, a
spec change one begun after it asked, reconciles waiting together share the next, and what
the operator deleted is gone from listings older than the deletion."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest
from temporalio.client import Client

from contactsync_operator.schedule_index import ScheduleIndex
from contactsync_operator.temporal import TemporalUnavailable

A = "contactsync/ns/a/eu/"
B = "contactsync/ns/b/eu/"


@dataclass
class Namespace:
    """A Temporal namespace's schedule ids, listed slowly enough for callers to pile up."""

    ids: set[str] = field(default_factory=lambda: {A + "sync", A + "retention", B + "sync"})
    listings: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    fail: bool = False

    async def list(self, client: Client) -> set[str]:
        self.listings += 1
        await self.release.wait()
        if self.fail:
            raise TemporalUnavailable("list schedules: Timeout expired")
        return set(self.ids)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def client(namespace: str = "contacts-eu") -> Client:
    return cast(Client, type("FakeClient", (), {"namespace": namespace})())


async def test_ticks_within_the_period_share_one_listing_and_filter_by_prefix() -> None:
    temporal, clock = Namespace(), Clock()
    temporal.release.set()
    index = ScheduleIndex(temporal.list, clock)
    assert await index.ids(client(), A, max_age=60) == {A + "sync", A + "retention"}
    clock.now += 59
    assert await index.ids(client(), B, max_age=60) == {B + "sync"}
    assert temporal.listings == 1
    clock.now += 2
    await index.ids(client(), B, max_age=60)
    assert temporal.listings == 2, "older than the period: listed again"
    await index.ids(client("contacts-us"), B, max_age=60)
    assert temporal.listings == 3, "each Temporal namespace has its own listing"


async def test_a_spec_change_waits_for_a_listing_begun_after_it_asked() -> None:
    temporal, clock = Namespace(), Clock()
    index = ScheduleIndex(temporal.list, clock)
    first = asyncio.create_task(index.ids(client(), A, max_age=0))
    await asyncio.sleep(0)
    clock.now += 1  # these ask while the first listing runs
    waiting = [asyncio.create_task(index.ids(client(), A, max_age=0)) for _ in range(50)]
    await asyncio.sleep(0)
    temporal.release.set()
    await first
    assert all(r == {A + "sync", A + "retention"} for r in await asyncio.gather(*waiting))
    assert temporal.listings == 2, "the fifty share the one listing begun after they asked"


async def test_a_deleted_schedule_is_gone_from_older_listings_not_from_newer_ones() -> None:
    temporal, clock = Namespace(), Clock()
    temporal.release.set()
    index = ScheduleIndex(temporal.list, clock)
    await index.ids(client(), A, max_age=60)
    clock.now += 1
    index.forget("contacts-eu", A + "sync")
    temporal.ids.discard(A + "sync")
    assert await index.ids(client(), A, max_age=60) == {A + "retention"}
    clock.now += 1
    temporal.ids.add(A + "sync")  # created again, by someone
    assert await index.ids(client(), A, max_age=0) == {A + "sync", A + "retention"}


async def test_a_failed_listing_is_not_kept() -> None:
    temporal, clock = Namespace(fail=True), Clock()
    temporal.release.set()
    index = ScheduleIndex(temporal.list, clock)
    with pytest.raises(TemporalUnavailable):
        await index.ids(client(), A, max_age=60)
    temporal.fail = False
    assert await index.ids(client(), A, max_age=60) == {A + "sync", A + "retention"}
    assert temporal.listings == 2
