"""LDAP and CardDAV into PostgreSQL, state in PostgreSQL: several sources merged by identity."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import ldap3
import psycopg
import pytest
from psycopg import sql
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError

from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput
from tests.carddav_sync import VCARD, sync
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.slapd import LdapPerson, SlapdServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.ldap, pytest.mark.postgres, pytest.mark.carddav, pytest.mark.temporal]


def config(ldap: SlapdServer, ou_dn: str, book: str, table: str) -> RegionConfig:
    return RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {
                "name": "local",
                "store": {"postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}}},
            },
            "sources": [
                {
                    "name": "hr",
                    "region": "local",
                    "ldap": {
                        "url": ldap.url,
                        "baseDN": ou_dn,
                        "allowInsecure": True,
                        "credentialsSecretRef": {"name": "ldap-bind"},
                    },
                },
                {
                    "name": "sales",
                    "region": "local",
                    "carddav": {
                        "url": book,
                        "allowInsecure": True,
                        "credentialsSecretRef": {"name": "dav"},
                    },
                },
            ],
            "destinations": [
                {
                    "name": "phonebook",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                }
            ],
            "fields": ["fullName", "emails", "phones"],
            "identity": ["email", "uid"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


def worker_files(
    root: Path,
    region: RegionConfig,
    temporal: TemporalDevServer,
    ldap: SlapdServer,
    radicale: RadicaleServer,
    postgres: PostgresServer,
    extra_env: dict[str, str] | None = None,
) -> WorkerFiles:
    """The worker's mounts for ``region``: a key and the Secrets ``config`` names."""
    files = WorkerFiles(
        root,
        region,
        task_queue=f"sync-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
        extra_env=extra_env or {},
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    files.write_secret("ldap-bind", {"bindDN": ldap.bind_dn, "password": ldap.password})
    files.write_secret("dav", {"username": radicale.username, "password": radicale.password})
    return files


async def test_ldap_and_carddav_records_of_one_person_become_one_row(
    tmp_path: Path,
    slapd_server: SlapdServer,
    radicale_server: RadicaleServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    ou = f"people-{uuid.uuid4().hex[:6]}"
    ou_dn = slapd_server.add_people(
        [
            LdapPerson("ada", "Ada", "Lovelace", "ada@example.org"),
            LdapPerson("alan", "Alan", "Turing", "alan@example.org"),
            LdapPerson("grace", "Grace", "Hopper", "grace@example.org"),
        ],
        ou=ou,
    )
    directory = slapd_server.connect()
    try:
        directory.modify(
            f"uid=alan,{ou_dn}", {"mobile": [(ldap3.MODIFY_ADD, ["+44 20 7946 0202"])]}
        )
    finally:
        directory.unbind()
    book = radicale_server.create_addressbook()
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:sales-1\r\nFN:Countess of Lovelace\r\n"
        "EMAIL;TYPE=HOME:ADA@example.org\r\nTEL;TYPE=CELL:+44 20 7946 0101\r\n"
        "TITLE:Analyst\r\nEND:VCARD\r\n"
    )
    async with httpx.AsyncClient(auth=(radicale_server.username, radicale_server.password)) as dav:
        assert (
            await dav.put(f"{book}ada.vcf", content=card.encode(), headers=VCARD)
        ).status_code == 201
    table = f"phonebook_{uuid.uuid4().hex[:8]}"
    files = worker_files(
        tmp_path,
        config(slapd_server, ou_dn, book, table),
        temporal_server,
        slapd_server,
        radicale_server,
        postgres_server,
    )
    async with running_worker(files, free_port()):
        first = await sync(files)
        again = await sync(files)
    assert first.created == 3
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    with psycopg.connect(postgres_server.dsn) as db:
        query = sql.SQL("SELECT full_name, emails, phones FROM {} ORDER BY full_name").format(
            sql.Identifier("public", table)
        )
        rows = db.execute(query).fetchall()
        typed = db.execute(
            sql.SQL("SELECT emails_typed, phones_typed FROM {} ORDER BY full_name").format(
                sql.Identifier("public", table)
            )
        ).fetchall()
        columns = {
            r[0]
            for r in db.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,)
            )
        }
    # LDAP comes first in the spec, so its name wins; the phone only CardDAV knew is kept.
    assert rows == [
        ("Ada Lovelace", ["ada@example.org"], ["+44 20 7946 0101"]),
        ("Alan Turing", ["alan@example.org"], ["+44 20 7946 0202"]),
        ("Grace Hopper", ["grace@example.org"], None),
    ]
    # One email, typed by both sources (LDAP's mail is a work address): both types are kept.
    assert [[(v["value"], v["types"]) for v in emails] for emails, _ in typed] == [
        [("ada@example.org", ["home", "work"])],
        [("alan@example.org", ["work"])],
        [("grace@example.org", ["work"])],
    ]
    assert [[(v["value"], v["types"]) for v in p] if p else None for _, p in typed] == [
        [("+44 20 7946 0101", ["cell"])],
        [("+44 20 7946 0202", ["cell"])],
        None,
    ]
    assert "Analyst" not in str(rows)
    assert "full_name" in columns


async def test_a_source_that_keeps_paging_fails_its_step_and_deletes_nothing(
    tmp_path: Path,
    slapd_server: SlapdServer,
    radicale_server: RadicaleServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    """Seven people in pages of two are four pages; a run may read at most three of one source
    (CONTACTSYNC_MAX_SOURCE_PAGES), standing in for a server that pages forever."""
    people = [LdapPerson(f"p{n}", "Person", f"N{n}", f"p{n}@example.org") for n in range(7)]
    ou_dn = slapd_server.add_people(people, ou=f"paging-{uuid.uuid4().hex[:6]}")
    table = f"phonebook_{uuid.uuid4().hex[:8]}"
    document = config(slapd_server, ou_dn, radicale_server.create_addressbook(), table)
    spec = document.model_dump(by_alias=True, exclude_none=True)
    spec["sources"][0]["ldap"]["pageSize"] = 2
    spec["contactSync"] = "tests/paging"  # a store scope of its own in the shared PostgreSQL
    files = worker_files(
        tmp_path,
        RegionConfig.model_validate(spec),
        temporal_server,
        slapd_server,
        radicale_server,
        postgres_server,
        extra_env={"CONTACTSYNC_MAX_SOURCE_PAGES": "3"},
    )
    async with running_worker(files, free_port()):
        client = await files.client()
        with pytest.raises(WorkflowFailureError) as failed:
            await client.execute_workflow(
                SYNC_WORKFLOW,
                SyncInput(RegionRunRequest("tests", "paging", "local")),
                id=f"sync-{uuid.uuid4().hex}",
                task_queue=files.task_queue,
            )
    failure = failed.value.cause
    assert isinstance(failure, ApplicationError)
    assert failure.type == "SourceUnavailable"
    assert failure.message == (
        "source hr is not done after 3 pages in one run; nothing was deleted on account of "
        "source hr"
    )
    with psycopg.connect(postgres_server.dsn) as db:
        written = db.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("public", table))
        ).fetchone()
    assert written is not None
    assert written[0] == 6, "the three pages read were written; the rest waits for a good run"
