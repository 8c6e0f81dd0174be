"""Identity merges under the mass-delete guard, through the real worker into Radicale: a
record that would fold many contacts into one is quarantined, and the contacts that merges
fold away count as deletions, so they cannot get past deletes.maxDeletePercent."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from tests.carddav_sync import carddav_region, cards, sync
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
PEOPLE = 10


def people_csv(path: Path, *extra: tuple[str, str, str]) -> None:
    rows = [(f"p{n}", f"Person {n}", f"p{n}@example.org") for n in range(PEOPLE)]
    path.write_text(
        "id,fullName,emails\n" + "".join(f"{i},{n},{e}\n" for i, n, e in [*rows, *extra])
    )


def region(
    tmp_path: Path, radicale: RadicaleServer, temporal: TemporalDevServer, limit: int
) -> AbstractAsyncContextManager[tuple[WorkerFiles, str, str]]:
    source = {"name": "people", "region": "local", "csv": {"path": str(tmp_path / "people.csv")}}
    return carddav_region(
        tmp_path / "worker",
        radicale,
        temporal,
        sources=[source],
        fields=["fullName", "emails"],
        identity=["email"],
        deletes={"propagate": True, "maxDeletePercent": limit},
    )


async def test_a_row_listing_other_peoples_emails_is_quarantined_and_merges_nothing(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    people_csv(tmp_path / "people.csv")
    async with region(tmp_path, radicale_server, temporal_server, limit=20) as (files, _, book):
        assert (await sync(files)).created == PEOPLE
        everyone = ";".join(f"p{n}@example.org" for n in range(1, PEOPLE))
        people_csv(tmp_path / "people.csv", ("x", "Collector", everyone))
        summary = await sync(files)
        assert summary.quarantined == 1
        assert summary.deleted == 0
        written = await cards(dav, book)
    assert len(written) == PEOPLE
    names = "\n".join(written.values())
    assert all(f"Person {n}" in names for n in range(PEOPLE))
    assert "Collector" not in names


async def test_contacts_folded_by_merges_count_against_the_guard(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    people_csv(tmp_path / "people.csv")
    async with region(tmp_path, radicale_server, temporal_server, limit=20) as (files, _, book):
        assert (await sync(files)).created == PEOPLE
        # Three rows, each joining two people: three contacts would be folded away (30%).
        pairs = [
            (f"j{n}", f"Joined {n}", f"p{n}@example.org;p{n + 5}@example.org") for n in (0, 1, 2)
        ]
        people_csv(tmp_path / "people.csv", *pairs)
        with pytest.raises(WorkflowFailureError) as failed:
            await sync(files)
        blocked = failed.value.cause
        assert isinstance(blocked, ApplicationError)
        assert blocked.type == "MassDeleteBlocked"
        assert blocked.message.startswith("this sync would delete "), "named once, by its type"
        assert len(await cards(dav, book)) == PEOPLE, "nothing deleted"
