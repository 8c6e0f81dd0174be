"""The vCard corpus from CardDAV into PostgreSQL: allowed fields arrive exactly as the cards
hold them, disallowed ones nowhere."""

from __future__ import annotations

import html
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql

from contactsync_api.fields import ContactField as F
from contactsync_api.spec import RegionConfig
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.contacts.typed import texts
from contactsync_worker.contacts.vcard import MalformedVCard, parse_vcard
from tests.carddav_sync import cards, sync, upload_corpus
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.postgres, pytest.mark.carddav, pytest.mark.temporal]
ALLOWED = [F.FULL_NAME, F.EMAILS, F.PHONES, F.ORGANIZATION, F.URLS]


async def test_corpus_fields_arrive_exactly_in_postgres(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    book = radicale_server.create_addressbook()
    async with httpx.AsyncClient(auth=(radicale_server.username, radicale_server.password)) as dav:
        await upload_corpus(dav, book)
        # What the source holds (Radicale rewrites some values on PUT) is what must arrive.
        held = await cards(dav, book)
    table = f"corpus_{uuid.uuid4().hex[:8]}"
    config = RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": [
                {
                    "name": "book",
                    "region": "local",
                    "carddav": {
                        "url": book,
                        "allowInsecure": True,
                        "credentialsSecretRef": {"name": "dav"},
                    },
                }
            ],
            "destinations": [
                {
                    "name": "db",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                }
            ],
            "fields": [str(f) for f in ALLOWED],
            "identity": ["uid"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 20},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )
    files = WorkerFiles(
        tmp_path,
        config,
        task_queue=f"corpus-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal_server.address,
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres_server.dsn})
    files.write_secret(
        "dav", {"username": radicale_server.username, "password": radicale_server.password}
    )
    async with running_worker(files, free_port()):
        await sync(files)

    policy = FieldPolicy(allowed=frozenset(ALLOWED), identity=())
    expected = {}
    for href, text in held.items():
        try:
            contact = parse_vcard(html.unescape(text), policy, source="book", item_id=href)
        except MalformedVCard:
            continue
        expected[contact.fields[F.FULL_NAME]] = (
            list(texts(contact.fields.get(F.EMAILS))) or None,
            list(texts(contact.fields.get(F.PHONES))) or None,
            contact.fields.get(F.ORGANIZATION),
            list(texts(contact.fields.get(F.URLS))) or None,
        )
    with psycopg.connect(postgres_server.dsn) as db:
        query = sql.SQL(
            "SELECT full_name, emails, phones, organization, urls, given_name, note, photo FROM {}"
        ).format(sql.Identifier("public", table))
        rows = db.execute(query).fetchall()
    assert {r[0]: (r[1], r[2], r[3], r[4]) for r in rows} == expected
    assert all(r[5] is None and r[6] is None and r[7] is None for r in rows), "disallowed stay out"
