"""A whole sync, CardDAV to CardDAV: the real worker on the Temporal dev server and Radicale."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput
from tests.carddav_sync import CORPUS, VCARD, carddav_region, cards, sync, upload_corpus
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]


@pytest.fixture
async def region(
    tmp_path: Path, radicale_server: RadicaleServer, temporal_server: TemporalDevServer
) -> AsyncIterator[tuple[WorkerFiles, str, str]]:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as running:
        yield running


async def test_first_sync_writes_every_valid_card_once_with_only_allowed_fields(
    region: tuple[WorkerFiles, str, str], dav: httpx.AsyncClient
) -> None:
    files, source_book, destination_book = region
    stored = await upload_corpus(dav, source_book)
    summary = await sync(files)
    written = await cards(dav, destination_book)
    broken = [n for n in stored if n.startswith("broken-")]
    assert summary.quarantined == len(broken)
    # Cards sharing a UID are one contact (Radicale itself may already refuse the second).
    same_uid = len([n for n in stored if n.startswith("duplicate-uid-")])
    assert summary.created == len(stored) - len(broken) - max(same_uid - 1, 0)
    assert len(written) == summary.created
    everything = "\n".join(written.values())
    for disallowed in ("NOTE", "PHOTO", "X-SOCIAL", "BDAY", "ADR", "TITLE"):
        assert not re.search(rf"^{disallowed}[;:]", everything, re.M), disallowed
    assert "Zoë Ångström" in everything


async def test_second_sync_writes_nothing_and_a_change_writes_only_that_card(
    region: tuple[WorkerFiles, str, str], dav: httpx.AsyncClient
) -> None:
    files, source_book, destination_book = region
    await upload_corpus(dav, source_book)
    await sync(files)
    before = await cards(dav, destination_book)

    again = await sync(files)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert await cards(dav, destination_book) == before

    text = (
        (CORPUS / "alice-liddell-v3.vcf")
        .read_text()
        .replace("FN:Alice Liddell", "FN:Alice P. Liddell")
    )
    response = await dav.put(
        f"{source_book}alice-liddell-v3.vcf", content=text.encode(), headers=VCARD
    )
    assert response.status_code in (201, 204)
    changed = await sync(files)
    assert (changed.created, changed.updated, changed.deleted) == (0, 1, 0)
    after = await cards(dav, destination_book)
    differing = [h for h in after if after[h] != before.get(h)]
    assert len(differing) == 1
    assert "Alice P. Liddell" in after[differing[0]]


async def test_a_deletion_at_the_source_is_propagated(
    region: tuple[WorkerFiles, str, str], dav: httpx.AsyncClient
) -> None:
    files, source_book, destination_book = region
    await upload_corpus(dav, source_book)
    first = await sync(files)
    response = await dav.delete(f"{source_book}alice-liddell-v3.vcf")
    assert response.status_code in (200, 204)
    summary = await sync(files)
    assert summary.deleted == 1
    remaining = await cards(dav, destination_book)
    assert len(remaining) == first.created - 1
    assert not any("Alice Liddell" in text for text in remaining.values())


async def test_history_holds_no_contact_data(
    region: tuple[WorkerFiles, str, str], dav: httpx.AsyncClient, temporal_server: TemporalDevServer
) -> None:
    files, source_book, _ = region
    await upload_corpus(dav, source_book)
    client = await files.client()
    request = RegionRunRequest("tests", "phonebook", "local")
    handle = await client.start_workflow(
        SYNC_WORKFLOW,
        SyncInput(request),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
    )
    await handle.result()
    plain = await Client.connect(temporal_server.address)
    history = await plain.get_workflow_handle(handle.id).fetch_history()
    raw = history.to_json() + "".join(
        e.SerializeToString().decode("latin-1") for e in history.events
    )
    for marker in ("Liddell", "wonderland.example", "7946", "Ångström", "Alice"):
        assert marker not in raw, marker
    assert (
        "encryption-key-id" in history.to_json() or "ZW5jcnlwdGlvbi1rZXktaWQ" in history.to_json()
    )
