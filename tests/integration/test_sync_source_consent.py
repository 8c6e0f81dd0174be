"""Consent recorded differently by each source of one ContactSync: a CardDAV book keeps it in
X-CONSENT, a directory in its ``description`` attribute with words of its own; both are
honoured, in one run, and a withdrawal in either removes that contact downstream."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import ldap3
import psycopg
import pytest
from psycopg import sql

from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from tests.carddav_sync import VCARD, vcard
from tests.integration.test_sync_ldap_postgres import config, worker_files
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.slapd import LdapPerson, SlapdServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.ldap, pytest.mark.postgres, pytest.mark.carddav, pytest.mark.temporal]
NAME = "per-source-consent"


async def sync(files: WorkerFiles) -> SyncSummary:
    client = await files.client()
    result: SyncSummary = await client.execute_workflow(
        SYNC_WORKFLOW,
        SyncInput(RegionRunRequest("tests", NAME, "local")),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=files.task_queue,
        result_type=SyncSummary,
    )
    return result


def describe(ldap: SlapdServer, dn: str, text: str) -> None:
    directory = ldap.connect()
    try:
        assert directory.modify(dn, {"description": [(ldap3.MODIFY_REPLACE, [text])]})
    finally:
        directory.unbind()


def written(postgres: PostgresServer, table: str) -> list[str]:
    with psycopg.connect(postgres.dsn) as db:
        query = sql.SQL("SELECT full_name FROM {} ORDER BY full_name").format(
            sql.Identifier("public", table)
        )
        return [name for (name,) in db.execute(query).fetchall()]


async def test_each_source_is_read_in_its_own_consent_property_and_words(
    tmp_path: Path,
    slapd_server: SlapdServer,
    radicale_server: RadicaleServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    ou_dn = slapd_server.add_people(
        [
            LdapPerson("ada", "Ada", "Lovelace", "ada@example.org"),
            LdapPerson("alan", "Alan", "Turing", "alan@example.org"),
            LdapPerson("grace", "Grace", "Hopper", "grace@example.org"),
            LdapPerson("edsger", "Edsger", "Dijkstra", "edsger@example.org"),
        ],
        ou=f"consent-{uuid.uuid4().hex[:6]}",
    )
    describe(slapd_server, f"uid=ada,{ou_dn}", "agreed")
    describe(slapd_server, f"uid=alan,{ou_dn}", "Agreed")
    # The book's word for yes means nothing in the directory: not consent.
    describe(slapd_server, f"uid=edsger,{ou_dn}", "granted")
    book = radicale_server.create_addressbook()
    auth = (radicale_server.username, radicale_server.password)
    cards = {
        "bob": vcard("bob", "Bob Book", "bob@example.org", "granted"),
        "carol": vcard("carol", "Carol Book", "carol@example.org", "yes"),
        "dan": vcard("dan", "Dan Book", "dan@example.org"),  # nothing recorded
        # The directory's word for yes means nothing in the book.
        "eve": vcard("eve", "Eve Book", "eve@example.org", "agreed"),
    }
    async with httpx.AsyncClient(auth=auth) as dav:
        for name, card in cards.items():
            response = await dav.put(f"{book}{name}.vcf", content=card, headers=VCARD)
            assert response.status_code == 201, response.text
    table = f"phonebook_{uuid.uuid4().hex[:8]}"
    spec = config(slapd_server, ou_dn, book, table).model_dump(by_alias=True, exclude_none=True)
    spec["contactSync"] = f"tests/{NAME}"  # a store scope of its own in the shared PostgreSQL
    spec["consent"] = {"mode": "Required", "property": "X-CONSENT"}
    spec["deletes"] = {"propagate": True, "maxDeletePercent": 100}
    spec["sources"][0]["consent"] = {
        "property": "description",
        "grantedValues": ["agreed"],
        "withdrawnValues": ["objected"],
    }
    region = RegionConfig.model_validate(spec)
    files = worker_files(
        tmp_path, region, temporal_server, slapd_server, radicale_server, postgres_server
    )
    async with running_worker(files, free_port()):
        first = await sync(files)
        assert (first.created, first.skipped_no_consent) == (4, 4)
        assert written(postgres_server, table) == [
            "Ada Lovelace",
            "Alan Turing",
            "Bob Book",
            "Carol Book",
        ]

        # A withdrawal in each source, each in that source's own words.
        describe(slapd_server, f"uid=ada,{ou_dn}", "objected")
        async with httpx.AsyncClient(auth=auth) as dav:
            withdrawn = vcard("bob", "Bob Book", "bob@example.org", "withdrawn")
            response = await dav.put(f"{book}bob.vcf", content=withdrawn, headers=VCARD)
            assert response.status_code in (201, 204), response.text
        second = await sync(files)

    assert second.deleted == 2
    assert written(postgres_server, table) == ["Alan Turing", "Carol Book"]
