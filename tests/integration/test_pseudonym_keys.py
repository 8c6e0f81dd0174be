"""The region's pseudonym key is its own: payload keys rotate and retire without touching
pseudonyms, and the pseudonym key itself rotates without duplicating anyone. Real worker,
restarted on the same state, with Temporal and Radicale."""

from __future__ import annotations

import base64
import secrets
import uuid
from pathlib import Path

import httpx
import pytest

from contactsync_worker.audit import AuditAction
from contactsync_worker.main import state_file
from contactsync_worker.store.sqlite import SqliteStore
from tests.carddav_sync import VCARD, cards, region_config, sync, vcard
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]


def new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


async def three_people(
    tmp_path: Path, radicale: RadicaleServer, temporal: TemporalDevServer, dav: httpx.AsyncClient
) -> tuple[WorkerFiles, str, str]:
    source, destination = radicale.create_addressbook(), radicale.create_addressbook()
    files = WorkerFiles(
        tmp_path,
        region_config(source, destination),
        task_queue=f"keys-{uuid.uuid4().hex[:8]}",
        temporal_address=temporal.address,
    )
    files.add_key("k0001")
    files.write_secret("dav", {"username": radicale.username, "password": radicale.password})
    for n in range(3):
        card = vcard(f"u{n}", f"Person {n}", f"p{n}@example.org")
        assert (await dav.put(f"{source}c{n}.vcf", content=card, headers=VCARD)).status_code == 201
    return files, source, destination


async def same_person_from_another_card(dav: httpx.AsyncClient, source: str) -> None:
    """A second card (another UID) with person 1's email: it merges only if the identity
    pseudonyms of the first sync still match."""
    card = vcard("other-uid", "Person One Again", "p1@example.org")
    assert (await dav.put(f"{source}again.vcf", content=card, headers=VCARD)).status_code == 201


async def test_retiring_the_oldest_payload_key_leaves_a_dedicated_pseudonym_key_alone(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    files, source, destination = await three_people(tmp_path, radicale_server, temporal_server, dav)
    (files.keys_dir / "pseudonym").write_text(new_key())
    async with running_worker(files, free_port()):
        assert (await sync(files)).created == 3
    files.add_key("k0002")
    (files.keys_dir / "k0001").unlink()  # retired, as the keyring docs advise
    await same_person_from_another_card(dav, source)
    async with running_worker(files, free_port()):
        summary = await sync(files)
    assert (summary.created, summary.updated) == (0, 1), "merged into the known person"
    assert len(await cards(dav, destination)) == 3


async def test_the_pseudonym_key_rotates_without_duplicating_or_rewriting_anyone(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    # Before dedicated keys: the pseudonym key is derived from the oldest payload key.
    files, source, destination = await three_people(tmp_path, radicale_server, temporal_server, dav)
    async with running_worker(files, free_port()):
        assert (await sync(files)).created == 3
    before = await cards(dav, destination)
    # The rotation: a dedicated key; the derived one is the previous key.
    (files.keys_dir / "pseudonym").write_text(new_key())
    async with running_worker(files, free_port()):
        reread = await sync(files)
        assert (reread.created, reread.updated, reread.deleted) == (0, 0, 0)
        assert await cards(dav, destination) == before, "nothing rewritten"
        await same_person_from_another_card(dav, source)
        merged = await sync(files)
    assert (merged.created, merged.updated) == (0, 1), "identities bound again under the new key"
    store = await SqliteStore.open(state_file(tmp_path / "state"))
    try:
        actions = [r.action for r in await store.audit_records("tests/phonebook/local")]
    finally:
        await store.aclose()
    assert actions.count(AuditAction.PSEUDONYM_KEY_ROTATED) == 1
    # Rotating again needs the key before it: a third, unknown key is refused.
    (files.keys_dir / "pseudonym").write_text(new_key())
    with pytest.raises(Exception, match="pseudonym-previous"):
        async with running_worker(files, free_port()):
            pass
