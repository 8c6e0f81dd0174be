""".vcf exports of Apple Contacts, Google and Outlook synced by a worker on the real Temporal
dev server into real PostgreSQL: from a path and over HTTPS, unchanged files write nothing,
reordered cards without UIDs keep their ids, removed cards are deleted, broken cards are set
aside without deleting anything."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SyncSummary
from tests.carddav_sync import sync
from tests.servers.https import HttpsServer, Route, running_https_server
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.temporal import TemporalDevServer
from tests.vcf_exports import NOT_ALLOWED, Person, apple, google, outlook
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.temporal, pytest.mark.postgres]
FIELDS = ["fullName", "emails", "phones", "organization", "addresses"]
TOKEN = "vcf-token-51d0"

APPLE = [
    Person("Ada", "Lovelace", "ada@example.test", "+44 20 7946 0001", "Engines", "A1-UID"),
    Person("Charles", "Babbage", "charles@example.test", "+44 20 7946 0002", "Engines", "A2"),
]
GOOGLE = [
    Person("Grace", "Hopper", "grace@example.test", "+1 555 0100", "Navy"),
    Person("Katherine", "Johnson", "katherine@example.test", "+1 555 0101", "NASA"),
    Person("Hedy", "Lamarr", "hedy@example.test", "+1 555 0102", "MGM"),
    Person("Alan", "Turing", "alan@example.test", "+44 161 0103", "NPL"),
]
OUTLOOK = [
    Person("Jürgen", "Müller", "juergen@example.test", "+49 30 1234567", "Contoso GmbH"),
    Person("Zoë", "Ångström", "zoe@example.test", "+46 8 123 45", "Fabrikam AB"),
]


@pytest.fixture
async def schema(postgres_server: PostgresServer) -> AsyncIterator[str]:
    name = f"vcf_{uuid.uuid4().hex[:12]}"
    yield name
    async with await psycopg.AsyncConnection.connect(postgres_server.dsn, autocommit=True) as db:
        await db.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("https-vcf")) as server:
        server.routes["/apple.vcf"] = Route(
            body=apple(APPLE), headers={"Content-Type": "text/vcard"}, bearer=TOKEN
        )
        yield server


def region_files(
    root: Path,
    sources: Mapping[str, Mapping[str, Any]],
    schema: str,
    postgres: PostgresServer,
    temporal: TemporalDevServer,
    *,
    identity: Sequence[str] = ("email", "uid"),
    consent: Mapping[str, Any] | None = None,
) -> WorkerFiles:
    config = RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": [
                {"name": name, "region": "local", "vcf": dict(vcf)} for name, vcf in sources.items()
            ],
            "destinations": [
                {
                    "name": "db",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "schema": schema},
                }
            ],
            "fields": FIELDS,
            "identity": list(identity),
            "consent": consent or {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )
    files = WorkerFiles(
        root / "pod",
        config,
        task_queue=f"vcf-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    return files


async def rows(postgres: PostgresServer, schema: str) -> dict[str, tuple[Any, ...]]:
    """full_name → (contact_id, emails, phones, organization, addresses, note, photo)."""
    query = sql.SQL(
        "SELECT full_name, contact_id, emails, phones, organization, addresses, note, photo FROM {}"
    ).format(sql.Identifier(schema, "contacts"))
    async with await psycopg.AsyncConnection.connect(postgres.dsn, autocommit=True) as db:
        found = await (await db.execute(query)).fetchall()
    return {row[0]: tuple(row[1:]) for row in found}


def writes(summary: SyncSummary) -> tuple[int, int, int]:
    return summary.created, summary.updated, summary.deleted


async def test_apple_google_and_outlook_exports_arrive_and_a_second_sync_writes_nothing(
    tmp_path: Path,
    https: HttpsServer,
    schema: str,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    google_file = tmp_path / "google.vcf"
    google_file.write_bytes(google(GOOGLE))
    outlook_file = tmp_path / "outlook.vcf"
    outlook_file.write_bytes(outlook(OUTLOOK))
    sources: dict[str, dict[str, Any]] = {
        "apple": {
            "url": f"{https.url}/apple.vcf",
            "caBundleSecretRef": {"name": "files-ca", "key": "ca.crt"},
            "credentialsSecretRef": {"name": "files-token"},
        },
        "google": {"path": str(google_file)},
        "outlook": {"path": str(outlook_file), "maxBytes": 1048576},
    }
    files = region_files(tmp_path, sources, schema, postgres_server, temporal_server)
    assert https.ca_bundle is not None
    files.write_secret("files-ca", {"ca.crt": https.ca_bundle.read_text()})
    files.write_secret("files-token", {"token": TOKEN})

    async with running_worker(files, free_port()):
        first = await sync(files)
        second = await sync(files)

    assert (first.created, first.quarantined) == (8, 0)
    assert writes(second) == (0, 0, 0)
    assert second.unchanged == 8
    assert https.received("/apple.vcf")[0].headers["authorization"] == f"Bearer {TOKEN}"
    held = await rows(postgres_server, schema)
    everyone = APPLE + GOOGLE + OUTLOOK
    assert {name: row[1:4] for name, row in held.items()} == {
        p.full_name: ([p.email], [p.phone], p.organization) for p in everyone
    }
    assert held["Jürgen Müller"][4] == [";;Hauptstraße 1;Berlin;;10115;DE"]  # 2.1, QP in UTF-8
    assert all(row[5] is None and row[6] is None for row in held.values()), "note, photo stay out"
    assert NOT_ALLOWED not in repr(held)


async def test_reordered_cards_without_uid_keep_their_ids_and_a_removed_card_is_deleted(
    tmp_path: Path,
    schema: str,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    book = tmp_path / "google.vcf"
    book.write_bytes(google(GOOGLE))
    # Identity by UID only, and the cards have none: nothing but the item id ties a card to
    # what was written for it, so an id that changed would show as a delete and a create.
    files = region_files(
        tmp_path,
        {"google": {"path": str(book)}},
        schema,
        postgres_server,
        temporal_server,
        identity=("uid",),
    )

    async with running_worker(files, free_port()):
        first = await sync(files)
        before = await rows(postgres_server, schema)
        # Exported again: another order, other line endings.
        book.write_bytes(google(list(reversed(GOOGLE)), newline="\r\n"))
        reordered = await sync(files)
        after = await rows(postgres_server, schema)
        book.write_bytes(google([p for p in GOOGLE if p.given != "Hedy"]))
        removed = await sync(files)

    assert first.created == 4
    assert writes(reordered) == (0, 0, 0)
    assert after == before
    assert writes(removed) == (0, 0, 1)
    assert set(await rows(postgres_server, schema)) == set(before) - {"Hedy Lamarr"}


async def test_broken_cards_are_set_aside_the_rest_synced_and_nothing_deleted(
    tmp_path: Path,
    schema: str,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    consenting = [replace(p, consent="directory") for p in APPLE]
    refusing = Person("Grace", "Hopper", "grace@example.test", "+1 555 0100", "Navy", "G1")
    book = tmp_path / "apple.vcf"
    whole = apple([*consenting, refusing])
    book.write_bytes(whole)
    consent = {"mode": "Required", "property": "X-CONSENT", "purposes": ["directory"]}
    files = region_files(
        tmp_path,
        {"apple": {"path": str(book)}},
        schema,
        postgres_server,
        temporal_server,
        consent=consent,
    )
    again = replace(consenting[0], given="Augusta")  # the first UID once more
    cut_off = apple([replace(consenting[1], uid="A3")]).replace(b"END:VCARD\r\n", b"")

    async with running_worker(files, free_port()):
        first = await sync(files)
        # Charles's card is gone, a card repeats Ada's UID and the last card is cut off.
        book.write_bytes(apple([consenting[0], refusing, again]) + cut_off)
        broken = await sync(files)

    assert (first.created, first.skipped_no_consent) == (2, 1)
    assert broken.quarantined == 2
    # Set aside records prove nothing about absent ones: Charles is not deleted this run.
    assert writes(broken) == (0, 0, 0)
    assert set(await rows(postgres_server, schema)) == {"Ada Lovelace", "Charles Babbage"}
