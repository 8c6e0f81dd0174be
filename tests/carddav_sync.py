"""Helpers for whole-sync tests on CardDAV: region config, corpus upload, reading a book."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_worker.keyring import REQUESTS_KEY
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

CORPUS = Path(__file__).parent / "corpus" / "vcards"
VCARD = {"Content-Type": "text/vcard; charset=utf-8"}
ALLOWED = ["fullName", "emails", "phones", "organization"]


def region_config(source_book: str, destination_book: str, **overrides: object) -> RegionConfig:
    document: dict[str, object] = {
        "contactSync": "tests/phonebook",
        "region": {"name": "local"},
        "sources": [
            {
                "name": "team",
                "region": "local",
                "carddav": {
                    "url": source_book,
                    "allowInsecure": True,
                    "credentialsSecretRef": {"name": "dav"},
                },
            }
        ],
        "destinations": [
            {
                "name": "phonebook",
                "region": "local",
                "carddav": {
                    "url": destination_book,
                    "allowInsecure": True,
                    "credentialsSecretRef": {"name": "dav"},
                },
            }
        ],
        "fields": ALLOWED,
        "identity": ["email", "uid"],
        "consent": {"mode": "NotRequired"},
        "deletes": {"propagate": True, "maxDeletePercent": 50},
        "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
        "deletionPolicy": "Retain",
    }
    document.update(overrides)
    return RegionConfig.model_validate(document)


async def upload_corpus(dav: httpx.AsyncClient, book: str) -> list[str]:
    """Put every corpus card into the book; returns the names the server accepted."""
    stored = []
    for card in sorted(CORPUS.glob("*.vcf")):
        response = await dav.put(f"{book}{card.name}", content=card.read_bytes(), headers=VCARD)
        if response.status_code == 201:
            stored.append(card.name)
    return stored


async def cards(dav: httpx.AsyncClient, book: str) -> dict[str, str]:
    """href → vCard text of every card in the book."""
    body = (
        '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/>'
        "</D:prop></C:addressbook-query>"
    )
    response = await dav.request("REPORT", book, content=body, headers={"Depth": "1"})
    assert response.status_code == 207, response.text
    hrefs = re.findall(r"<(?:\w+:)?href>([^<]+)</(?:\w+:)?href>", response.text)
    texts = re.findall(
        r"<(?:\w+:)?address-data[^>]*>(.*?)</(?:\w+:)?address-data>", response.text, re.S
    )
    return dict(zip(hrefs, texts, strict=True))


@asynccontextmanager
async def carddav_region(
    tmp_path: Path,
    radicale: RadicaleServer,
    temporal: TemporalDevServer,
    extra_env: dict[str, str] | None = None,
    source_book: str | None = None,
    destination_book: str | None = None,
    task_queue: str | None = None,
    **config: Any,
) -> AsyncIterator[tuple[WorkerFiles, str, str]]:
    """A running worker syncing a source book into a destination book (fresh ones unless
    given). The worker's state lives under ``tmp_path``: a second worker there remembers."""
    source_book = source_book or radicale.create_addressbook()
    destination_book = destination_book or radicale.create_addressbook()
    files = WorkerFiles(
        tmp_path,
        region_config(source_book, destination_book, **config),
        task_queue=task_queue or f"sync-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
        extra_env=extra_env or {},
    )
    files.add_key("k0001")
    files.add_key(REQUESTS_KEY)  # signs purges and erasures; the worker verifies with it
    files.write_secret("dav", {"username": radicale.username, "password": radicale.password})
    async with running_worker(files, free_port()):
        yield files, source_book, destination_book


async def sync(files: WorkerFiles, client: Client | None = None) -> SyncSummary:
    client = client or await files.client()
    request = RegionRunRequest("tests", "phonebook", "local")
    result: SyncSummary = await client.execute_workflow(
        SYNC_WORKFLOW,
        SyncInput(request),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
        result_type=SyncSummary,
    )
    return result


def vcard(uid: str, name: str, email: str, consent: str | None = None) -> bytes:
    """A plain vCard 3.0, for tests that need many or specific cards."""
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:{uid}",
        f"FN:{name}",
        f"N:{name};;;;",
        f"EMAIL:{email}",
    ]
    if consent is not None:
        lines.append(f"X-CONSENT:{consent}")
    return ("\r\n".join([*lines, "END:VCARD"]) + "\r\n").encode()
