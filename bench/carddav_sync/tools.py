"""The tools the harness compares, each with a state of its own under the scratch directory,
writing into a destination of the chosen kind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from tests.servers.radicale import RadicaleServer

from bench.carddav_sync import book, vdirsyncer
from bench.carddav_sync.contactsync import Region, carddav_destination, postgres_destination
from bench.carddav_sync.deployed import Deployed
from bench.carddav_sync.oneshot_tool import OneShot
from bench.carddav_sync.sample import DEPLOYED, FIRST_RUN, ONE_SHOT, PLAIN, VDIRSYNCER, Tool

POSTGRES, CARDDAV = "postgres", "carddav"
DESTINATIONS = (POSTGRES, CARDDAV)


@dataclass(frozen=True)
class Harness:
    """What every tool shares: the servers, the book, where to write, how to log."""

    work: Path
    repo: Path
    book_url: str
    radicale: RadicaleServer
    client: httpx.Client  # logged in to Radicale
    temporal_address: str
    dsn: str
    destination: str  # POSTGRES or CARDDAV
    overrides: dict[str, str]  # bench_worker's, for every ContactSync tool

    def new_destination(self) -> Callable[[str], dict[str, Any]]:
        """ContactSync's destination block for a fresh table, or a fresh address book."""
        if self.destination == CARDDAV:
            return lambda name: carddav_destination(
                self.radicale.create_addressbook(f"copy-{name.replace('_', '-')}")
            )
        return lambda name: postgres_destination(f"contacts_{name}")

    def region(self, tool: str) -> Region:
        return Region(
            self.work / tool,
            tool,
            self.book_url,
            self.temporal_address,
            {"username": self.radicale.username, "password": self.radicale.password},
            self.dsn,
            self.new_destination(),
            self.overrides,
        )

    def vdirsyncer(self) -> vdirsyncer.Vdirsyncer:
        to_book = self.destination == CARDDAV
        return vdirsyncer.Vdirsyncer(
            vdirsyncer.install(),
            self.work / VDIRSYNCER,
            self.book_url,
            (self.radicale.username, self.radicale.password),
            self.radicale.process.pid,
            self.work / "runs.log",
            new_book=self.radicale.create_addressbook if to_book else None,
            count_book=lambda url: book.count(self.client, url),
        )

    def tools(self, names: Sequence[str]) -> list[Tool]:
        at = (self.repo, self.radicale.process.pid, self.work / "runs.log")
        made: dict[str, Callable[[], Tool]] = {
            VDIRSYNCER: self.vdirsyncer,
            ONE_SHOT: lambda: OneShot(ONE_SHOT, self.region(ONE_SHOT), *at),
            DEPLOYED: lambda: Deployed(DEPLOYED, self.region(DEPLOYED), *at),
            PLAIN: lambda: Deployed(PLAIN, self.region(PLAIN), *at, plain=True),
            FIRST_RUN: lambda: OneShot(FIRST_RUN, self.region(FIRST_RUN), *at, own_server=True),
        }
        return [made[name]() for name in names]
