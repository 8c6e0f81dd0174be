"""Erasure of one data subject everywhere, and an audit trail that shows tampering."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client

from contactsync_api import runtime
from contactsync_api.workflows import RegionRunRequest, SubjectIds
from contactsync_worker import commands
from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
REGION = RegionRunRequest("tests", "phonebook", "local")
SCOPE = "tests/phonebook/local"
CLI = Path(sys.executable).parent / "contactsync"


def audit_verify(state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "audit", "verify", f"--sqlite={state}", f"--scope={SCOPE}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_erasure_removes_the_subject_everywhere_and_leaves_a_verifiable_record(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    deletes = {"propagate": True, "maxDeletePercent": 100}
    queue = runtime.task_queue(REGION.namespace, REGION.contact_sync, REGION.region)
    async with carddav_region(
        tmp_path, radicale_server, temporal_server, task_queue=queue, deletes=deletes
    ) as (files, source, destination):
        people = [
            ("erika", "Erika Mustermann", "erika@example.org"),
            ("max", "Max Mustermann", "max@example.org"),
            ("ida", "Ida Pfeiffer", "ida@example.org"),
        ]
        for uid, name, email in people:
            response = await dav.put(
                f"{source}{uid}.vcf", content=vcard(uid, name, email), headers=VCARD
            )
            assert response.status_code == 201
        assert (await sync(files)).created == 3

        target = commands.ErasureTarget(
            temporal_server.address,
            "default",
            files.keys_dir,
            REGION,
            plaintext=True,  # the test Temporal has no TLS
        )
        result = await commands.erase(target, SubjectIds(email="Erika@Example.org"))
        assert (result.contacts_erased, result.destination_deletes) == (1, 1)
        remaining = "".join((await cards(dav, destination)).values())
        assert "Erika" not in remaining
        assert "Max Mustermann" in remaining

        plain = await Client.connect(temporal_server.address)
        erasures = [w async for w in plain.list_workflows('WorkflowType = "ErasureWorkflow"')]
        history = await plain.get_workflow_handle(erasures[0].id).fetch_history()
        raw = history.to_json() + "".join(
            e.SerializeToString().decode("latin-1") for e in history.events
        )
        assert "erika" not in raw.lower(), "the address is encrypted in history"

    state = tmp_path / "state" / "state.sqlite"
    verified = audit_verify(state)
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout
    with sqlite3.connect(state) as db:
        actions = [
            row[0] for row in db.execute("SELECT action FROM audit_log WHERE scope = ?", (SCOPE,))
        ]
        assert "erased" in actions
        everything = " ".join(str(v) for row in db.execute("SELECT * FROM audit_log") for v in row)
        assert "erika" not in everything.lower(), "the audit trail names subjects by pseudonym"


async def test_tampering_with_one_audit_record_is_reported_at_that_record(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as (files, source, _):
        for n in range(4):
            await dav.put(
                f"{source}p{n}.vcf",
                content=vcard(f"p{n}", f"Person {n}", f"p{n}@example.org"),
                headers=VCARD,
            )
        await sync(files)
    state = tmp_path / "state" / "state.sqlite"
    assert audit_verify(state).returncode == 0
    with sqlite3.connect(state) as db:
        # What an intruder with write access would do: lift the guard and rewrite history.
        db.execute("DROP TRIGGER audit_log_append_only")
        db.execute("UPDATE audit_log SET action = 'updated' WHERE scope = ? AND seq = 2", (SCOPE,))
    broken = audit_verify(state)
    assert broken.returncode == 1
    assert "BROKEN at record 2" in broken.stderr
