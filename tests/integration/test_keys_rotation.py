"""A payload key rotation made with ``contactsync keys``, end to end on a real Temporal server.

Keys come from ``contactsync keys generate`` and ``rotate``, in both forms: a directory, as
workers mount the Secret, and a Secret manifest, whose data the operator reads. Every client
uses the worker's data converter. Histories are read with a client that has no codec, to see
which key id each payload's metadata names.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from contactsync_cli.main import main
from contactsync_operator.region_keys import RegionKeys, parse_keys_secret
from contactsync_worker.codec import UnknownKeyError
from contactsync_worker.keyring import Keyring
from tests.integration.test_codec_temporal import (
    MARKER,
    TIMEOUT,
    GreetWorkflow,
    connect,
    greet_contact,
    key_ids_in,
    payloads_in,
    raw_history,
    run_greeting,
)
from tests.servers.temporal import TemporalDevServer

pytestmark = pytest.mark.temporal

REGION = "eu-central-1"
GREETING = f"synced {MARKER}"


def keys_dir(tmp_path: Path) -> tuple[list[str], Callable[[], Keyring]]:
    """The keys as a directory, read as a worker reads its mounted Secret."""
    path = tmp_path / "keys"
    assert main(["keys", "generate", "--region", REGION, "--out", str(path)]) == 0
    return ["--dir", str(path)], lambda: Keyring.from_directory(path)


def keys_manifest(tmp_path: Path) -> tuple[list[str], Callable[[], Keyring]]:
    """The keys as a Secret manifest, its data read as the operator reads a Secret's."""
    path = tmp_path / "keys.yaml"
    assert main(["keys", "generate", "--region", REGION, "--manifest", str(path)]) == 0

    def load() -> Keyring:
        manifest = yaml.safe_load(path.read_text())
        data = {name: base64.b64decode(value) for name, value in manifest["data"].items()}
        keys = parse_keys_secret(REGION, manifest["metadata"]["name"], data)
        assert isinstance(keys, RegionKeys), keys
        return keys.keyring

    return ["--manifest", str(path)], load


@pytest.fixture(params=[keys_dir, keys_manifest], ids=["directory", "manifest"])
def region_keys(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[list[str], Callable[[], Keyring]]:
    make: Callable[[Path], tuple[list[str], Callable[[], Keyring]]] = request.param
    return make(tmp_path)


@asynccontextmanager
async def running_worker(client: Client, task_queue: str | None = None) -> AsyncIterator[str]:
    """A worker with the client's data converter on ``task_queue`` (or a fresh one)."""
    queue = task_queue or f"keys-{uuid.uuid4().hex}"
    async with Worker(
        client,
        task_queue=queue,
        workflows=[GreetWorkflow],
        activities=[greet_contact],
        workflow_runner=UnsandboxedWorkflowRunner(),  # as test_codec_temporal: trivial workflows
    ):
        yield queue


async def decode_history(client: Client, workflow_id: str) -> int:
    """Decode every payload of a history with ``client``'s codec; how many there were."""
    history = await raw_history(client, workflow_id)
    payloads = [p for event in history.events for p in payloads_in(event)]
    codec = client.data_converter.payload_codec
    assert codec is not None
    decoded = await codec.decode(payloads)
    assert any(MARKER.encode() in payload.data for payload in decoded)
    return len(decoded)


async def test_after_a_rotation_old_histories_decode_and_new_ones_use_the_new_key(
    temporal_server: TemporalDevServer,
    region_keys: tuple[list[str], Callable[[], Keyring]],
) -> None:
    form, load = region_keys
    before = load()
    old_client = await connect(temporal_server, before)
    async with running_worker(old_client) as task_queue:
        old = await run_greeting(old_client, task_queue)

    assert main(["keys", "rotate", *form, "--pseudonym"]) == 0
    after = load()
    assert list(before) == [before.newest_id]
    assert set(after) == {before.newest_id, after.newest_id}
    assert after.newest_id > before.newest_id
    new_client = await connect(temporal_server, after)

    plain = await connect(temporal_server, None)
    assert key_ids_in(await raw_history(plain, old.id)) == {before.newest_id.encode()}
    assert await decode_history(new_client, old.id) > 0
    assert await new_client.get_workflow_handle(old.id).result() == GREETING

    async with running_worker(new_client) as task_queue:
        new = await run_greeting(new_client, task_queue)
    assert key_ids_in(await raw_history(plain, new.id)) == {after.newest_id.encode()}
    assert await decode_history(new_client, new.id) > 0
    # A client still on the keys from before the rotation cannot read what the new key wrote.
    with pytest.raises(UnknownKeyError, match=after.newest_id):
        await old_client.get_workflow_handle(new.id).result()


async def test_a_workflow_started_before_a_rotation_is_finished_after_it(
    temporal_server: TemporalDevServer,
    region_keys: tuple[list[str], Callable[[], Keyring]],
) -> None:
    form, load = region_keys
    old_client = await connect(temporal_server, load())
    task_queue = f"keys-{uuid.uuid4().hex}"
    started = await old_client.start_workflow(
        GreetWorkflow.run,
        MARKER,
        id=f"keys-in-flight-{uuid.uuid4().hex}",
        task_queue=task_queue,
        execution_timeout=TIMEOUT,
    )
    assert main(["keys", "rotate", *form]) == 0
    after = load()
    new_client = await connect(temporal_server, after)
    async with running_worker(new_client, task_queue):
        assert await new_client.get_workflow_handle(started.id).result() == GREETING
    plain = await connect(temporal_server, None)
    # Its input under the key from before, what the new worker wrote under the new one.
    assert key_ids_in(await raw_history(plain, started.id)) == {
        min(after).encode(),
        after.newest_id.encode(),
    }
    assert await decode_history(new_client, started.id) > 0


async def test_a_retired_key_no_longer_decodes_the_histories_it_wrote(
    temporal_server: TemporalDevServer,
    region_keys: tuple[list[str], Callable[[], Keyring]],
) -> None:
    form, load = region_keys
    first = load()
    client = await connect(temporal_server, first)
    async with running_worker(client) as task_queue:
        old = await run_greeting(client, task_queue)
    assert main(["keys", "rotate", *form]) == 0
    assert main(["keys", "rotate", *form, "--retire", first.newest_id]) == 0
    retired = await connect(temporal_server, load())
    with pytest.raises(UnknownKeyError, match=first.newest_id):
        await retired.get_workflow_handle(old.id).result()
    async with running_worker(retired) as task_queue:
        assert await (await run_greeting(retired, task_queue)).result() == GREETING
