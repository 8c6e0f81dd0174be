"""Erasure that sticks: an erased person still present in the sources is skipped by every
later sync, restarts included, until a signed lift request lets them back."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from psycopg import sql
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError

from contactsync_api import runtime
from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import (
    SUPPRESSION_LIFT_WORKFLOW,
    SYNC_WORKFLOW,
    RegionRunRequest,
    SubjectIds,
    SuppressionLiftRequest,
    SuppressionLiftResult,
    SyncInput,
    SyncSummary,
)
from contactsync_worker import authorization, commands
from contactsync_worker.keyring import REQUESTS_KEY
from tests.carddav_sync import ALLOWED, VCARD, carddav_region, cards
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
REGION = RegionRunRequest("tests", "phonebook", "local")
SCOPE = "tests/phonebook/local"
QUEUE = runtime.task_queue(REGION.namespace, REGION.contact_sync, REGION.region)


def card(uid: str, name: str, email: str, phone: str) -> bytes:
    lines = ["BEGIN:VCARD", "VERSION:3.0", f"UID:{uid}", f"FN:{name}", f"N:{name};;;;"]
    lines += [f"EMAIL:{email}", f"TEL:{phone}", "END:VCARD"]
    return ("\r\n".join(lines) + "\r\n").encode()


def endpoint(name: str, kind: str, spec: dict[str, object]) -> dict[str, object]:
    return {"name": name, "region": "local", kind: spec}


def two_by_two(team: str, crm: Path, phonebook: str, table: str) -> RegionConfig:
    """A CardDAV book and a JSON Lines file into a CardDAV book and a PostgreSQL table,
    merged on uid only: finding a person by email must not depend on merging by it."""
    dav = {"allowInsecure": True, "credentialsSecretRef": {"name": "dav"}}
    return RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": [
                endpoint("team", "carddav", {"url": team, **dav}),
                endpoint("crm", "jsonl", {"path": str(crm)}),
            ],
            "destinations": [
                endpoint("phonebook", "carddav", {"url": phonebook, **dav}),
                endpoint(
                    "db", "postgres", {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table}
                ),
            ],
            "fields": ALLOWED,
            "identity": ["uid"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 100},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


@asynccontextmanager
async def worker(
    tmp_path: Path,
    config: RegionConfig,
    radicale: RadicaleServer,
    postgres: PostgresServer,
    temporal: TemporalDevServer,
) -> AsyncIterator[WorkerFiles]:
    """The region's worker over the state under ``tmp_path``: a second one there is a
    restarted worker with a new store object on the same file."""
    files = WorkerFiles(tmp_path, config, task_queue=QUEUE, temporal_address=temporal.address)
    files.add_key("k0001")
    files.add_key(REQUESTS_KEY)
    files.write_secret("dav", {"username": radicale.username, "password": radicale.password})
    files.write_secret("pg", {"dsn": postgres.dsn})
    async with running_worker(files, free_port()):
        yield files


async def sync(files: WorkerFiles) -> SyncSummary:
    client = await files.client()
    result: SyncSummary = await client.execute_workflow(
        SYNC_WORKFLOW,
        SyncInput(REGION),
        id=f"sync-{uuid.uuid4().hex}",
        task_queue=QUEUE,
        result_type=SyncSummary,
    )
    return result


def target(files: WorkerFiles, temporal: TemporalDevServer) -> commands.ErasureTarget:
    # The test Temporal has no TLS.
    return commands.ErasureTarget(
        temporal.address, "default", files.keys_dir, REGION, plaintext=True
    )


async def names_in_phonebook(dav: httpx.AsyncClient, book: str) -> str:
    return "".join((await cards(dav, book)).values())


def names_in_table(postgres: PostgresServer, table: str) -> list[str]:
    with psycopg.connect(postgres.dsn) as db:
        query = sql.SQL("SELECT full_name FROM {} ORDER BY full_name")
        rows = db.execute(query.format(sql.Identifier("public", table))).fetchall()
    return [row[0] for row in rows]


def state_rows(tmp_path: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        return db.execute(query).fetchall()


def state_text(tmp_path: Path) -> str:
    """Everything the state store holds, as text."""
    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        return "\n".join(db.iterdump())


@pytest.mark.postgres
async def test_an_erased_person_still_in_the_sources_stays_out_of_every_destination_until_lifted(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    team, phonebook = radicale_server.create_addressbook(), radicale_server.create_addressbook()
    erika = card("erika-1", "Erika Mustermann", "erika@example.org", "+49 30 1234567")
    await dav.put(f"{team}erika.vcf", content=erika, headers=VCARD)
    max_ = card("max-1", "Max Mustermann", "max@example.org", "+49 30 7654321")
    await dav.put(f"{team}max.vcf", content=max_, headers=VCARD)
    crm = tmp_path / "crm.jsonl"
    rows = [
        {"id": "crm-1", "fullName": "Erika Mustermann", "emails": ["Erika@Example.org"]},
        {"id": "crm-2", "fullName": "Ida Pfeiffer", "emails": ["ida@example.org"]},
    ]
    crm.write_text("".join(json.dumps(row) + "\n" for row in rows))
    table = f"suppression_{uuid.uuid4().hex[:8]}"
    config = two_by_two(team, crm, phonebook, table)
    servers = (radicale_server, postgres_server, temporal_server)

    async with worker(tmp_path, config, *servers) as files:
        await sync(files)
        assert names_in_table(postgres_server, table).count("Erika Mustermann") == 2

        erased = await commands.erase(
            target(files, temporal_server), SubjectIds(email="erika@example.org")
        )
        # Both records carry the address, though the spec merges on uid only.
        assert (erased.contacts_erased, erased.destination_deletes) == (2, 4)
        assert erased.identifiers_suppressed == 2  # the address, and the card's uid

        # The card changes, so the CardDAV source lists it again; the file lists everything.
        changed = erika.replace(b"FN:Erika Mustermann", b"FN:Erika M. Mustermann")
        await dav.put(f"{team}erika.vcf", content=changed, headers=VCARD)
        first = await sync(files)
        second = await sync(files)

        assert (first.skipped_suppressed, second.skipped_suppressed) == (2, 1)
        assert (first.created, second.created) == (0, 0)
        assert "Erika" not in await names_in_phonebook(dav, phonebook)
        assert names_in_table(postgres_server, table) == ["Ida Pfeiffer", "Max Mustermann"]

    async with worker(tmp_path, config, *servers) as files:
        after_restart = await sync(files)
        assert after_restart.skipped_suppressed == 1
        assert "Erika" not in await names_in_phonebook(dav, phonebook)

        skips = state_rows(
            tmp_path,
            "SELECT source, subject, detail FROM audit_log WHERE action = 'skipped_suppressed'",
        )
        assert sorted(str(source) for source, _, _ in skips) == ["crm", "crm", "crm", "team"]
        assert all(json.loads(str(detail))["erasure"].startswith(QUEUE) for *_, detail in skips)
        assert "erika" not in state_text(tmp_path).lower(), "pseudonyms only, no contact data"

        lifted = await commands.lift_suppression(
            target(files, temporal_server), SubjectIds(email="ERIKA@example.org ")
        )
        assert (lifted.erasures_lifted, lifted.identifiers_lifted) == (1, 2)
        back = await sync(files)

        assert back.skipped_suppressed == 0
        assert "Erika M. Mustermann" in await names_in_phonebook(dav, phonebook)
        assert names_in_table(postgres_server, table) == [
            "Erika M. Mustermann",
            "Erika Mustermann",
            "Ida Pfeiffer",
            "Max Mustermann",
        ]
    actions = [row[0] for row in state_rows(tmp_path, "SELECT action FROM audit_log ORDER BY seq")]
    assert actions.index("suppressed") < actions.index("erased")
    assert actions.count("suppression_lifted") == 1
    assert actions.index("suppression_lifted") < len(actions) - actions[::-1].index("created")


async def test_an_erasure_by_phone_finds_the_person_under_identity_uid(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, task_queue=QUEUE, identity=["uid"]
    ) as (files, source, destination):
        erika = card("erika-1", "Erika Mustermann", "erika@example.org", "+49 (30) 123-4567")
        await dav.put(f"{source}erika.vcf", content=erika, headers=VCARD)
        max_ = card("max-1", "Max Mustermann", "max@example.org", "+49 30 7654321")
        await dav.put(f"{source}max.vcf", content=max_, headers=VCARD)
        await sync(files)

        erased = await commands.erase(
            target(files, temporal_server), SubjectIds(phone="+49301234567")
        )
        assert (erased.contacts_erased, erased.destination_deletes) == (1, 1)

        changed = erika.replace(b"EMAIL:erika@example.org", b"EMAIL:erika@new.example")
        await dav.put(f"{source}erika.vcf", content=changed, headers=VCARD)
        again = await sync(files)

        # Matched by the card's uid: the erasure suppressed it with the phone.
        assert again.skipped_suppressed == 1
        remaining = await names_in_phonebook(dav, destination)
        assert "Erika" not in remaining
        assert "Max Mustermann" in remaining


async def test_an_erasure_by_uid_finds_the_person_under_identity_email(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, task_queue=QUEUE, identity=["email"]
    ) as (files, source, destination):
        erika = card("erika-1", "Erika Mustermann", "erika@example.org", "+49 30 1234567")
        await dav.put(f"{source}erika.vcf", content=erika, headers=VCARD)
        max_ = card("max-1", "Max Mustermann", "max@example.org", "+49 30 7654321")
        await dav.put(f"{source}max.vcf", content=max_, headers=VCARD)
        await sync(files)
        # Not merged on, so not written: the destination's cards carry their own UIDs.
        written = await cards(dav, destination)
        assert written
        assert not any("erika-1" in body for body in written.values())

        erased = await commands.erase(target(files, temporal_server), SubjectIds(uid="erika-1"))
        assert (erased.contacts_erased, erased.destination_deletes) == (1, 1)

        changed = erika.replace(b"EMAIL:erika@example.org", b"EMAIL:erika@new.example")
        await dav.put(f"{source}erika.vcf", content=changed, headers=VCARD)
        again = await sync(files)

        # A new email, the same card: the suppressed uid still keeps her out.
        assert again.skipped_suppressed == 1
        remaining = await names_in_phonebook(dav, destination)
        assert "Erika" not in remaining
        assert "Max Mustermann" in remaining


async def test_a_lift_not_signed_for_itself_is_refused_and_the_person_stays_out(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server, task_queue=QUEUE) as (
        files,
        source,
        destination,
    ):
        erika = card("erika-1", "Erika Mustermann", "erika@example.org", "+49 30 1234567")
        await dav.put(f"{source}erika.vcf", content=erika, headers=VCARD)
        await sync(files)
        await commands.erase(target(files, temporal_server), SubjectIds(email="erika@example.org"))
        client = await files.client()
        seed = authorization.request_key(files.keys_dir)
        assert seed is not None
        lift_id = f"{QUEUE}/suppression-lift/{uuid.uuid4().hex}"
        subject = SubjectIds(email="erika@example.org")
        as_erasure = authorization.sign(
            seed, authorization.ERASE, REGION, lift_id, datetime.now(UTC), subject
        )
        attempts = {
            "unsigned": (f"{QUEUE}/suppression-lift/{uuid.uuid4().hex}", REGION),
            "an erasure's signature": (
                lift_id,
                dataclasses.replace(REGION, authorization=as_erasure),
            ),
        }
        for why, (workflow_id, request) in attempts.items():
            with pytest.raises(WorkflowFailureError) as refused:
                await client.execute_workflow(
                    SUPPRESSION_LIFT_WORKFLOW,
                    SuppressionLiftRequest(request, email="erika@example.org"),
                    id=workflow_id,
                    task_queue=QUEUE,
                    result_type=SuppressionLiftResult,
                )
            cause = refused.value.cause
            assert isinstance(cause, ActivityError), why
            assert isinstance(cause.cause, ApplicationError), why
            assert cause.cause.type == "Unauthorized", why

        changed = erika.replace(b"FN:Erika Mustermann", b"FN:Erika M. Mustermann")
        await dav.put(f"{source}erika.vcf", content=changed, headers=VCARD)
        assert (await sync(files)).skipped_suppressed == 1
        assert "Erika" not in await names_in_phonebook(dav, destination)
