"""The payload codec against a real Temporal server: what history holds is ciphertext.

Histories are read with a client that has no codec, as an operator of the
Temporal cluster (or anyone with its database) would see them.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from google.protobuf.message import Message
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from contactsync_worker.codec import (
    ENCODING,
    KEY_ID_METADATA,
    EncryptionCodec,
    UnknownKeyError,
    data_converter,
)
from contactsync_worker.keyring import Keyring
from tests.servers.temporal import NAMESPACE, TemporalDevServer

pytestmark = pytest.mark.temporal

MARKER = "erika.mustermann@example.org"
TIMEOUT = timedelta(seconds=30)


@activity.defn
async def greet_contact(email: str) -> str:
    return f"synced {email}"


@activity.defn
async def refuse_contact(email: str) -> str:
    raise ApplicationError(
        f"no consent from {email}", email, type="ConsentMissing", non_retryable=True
    )


@workflow.defn
class GreetWorkflow:
    @workflow.run
    async def run(self, email: str) -> str:
        return await workflow.execute_activity(greet_contact, email, start_to_close_timeout=TIMEOUT)


@workflow.defn
class RefuseWorkflow:
    @workflow.run
    async def run(self, email: str) -> str:
        # The ActivityError is a FailureError, so it fails the workflow, carrying
        # the activity's message (and the marker in it) into the failed event.
        return await workflow.execute_activity(
            refuse_contact, email, start_to_close_timeout=TIMEOUT
        )


def new_keyring(*key_ids: str) -> dict[str, bytes]:
    return {key_id: os.urandom(32) for key_id in key_ids}


async def connect(server: TemporalDevServer, keyring: Keyring | None) -> Client:
    """A client with the ContactSync data converter, or a plain one for ``None``."""
    converter = DataConverter.default if keyring is None else data_converter(keyring)
    return await connect_with(server, converter)


async def connect_with(server: TemporalDevServer, converter: DataConverter) -> Client:
    return await Client.connect(server.address, namespace=NAMESPACE, data_converter=converter)


@asynccontextmanager
async def running_worker(client: Client) -> AsyncIterator[str]:
    """A worker on a fresh task queue, using the client's data converter; yields the queue."""
    task_queue = f"codec-{uuid.uuid4().hex}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[GreetWorkflow, RefuseWorkflow],
        activities=[greet_contact, refuse_contact],
        # The workflows are trivial and deterministic; the sandbox would re-import
        # this module with its server fixtures for no gain.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        yield task_queue


async def run_greeting(client: Client, task_queue: str) -> WorkflowHandle[GreetWorkflow, str]:
    handle = await client.start_workflow(
        GreetWorkflow.run,
        MARKER,
        id=f"codec-greet-{uuid.uuid4().hex}",
        task_queue=task_queue,
        execution_timeout=TIMEOUT,
    )
    await handle.result()
    return handle


async def run_refusal(
    client: Client, task_queue: str
) -> tuple[WorkflowHandle[RefuseWorkflow, str], WorkflowFailureError]:
    handle = await client.start_workflow(
        RefuseWorkflow.run,
        MARKER,
        id=f"codec-refuse-{uuid.uuid4().hex}",
        task_queue=task_queue,
        execution_timeout=TIMEOUT,
    )
    with pytest.raises(WorkflowFailureError) as caught:
        await handle.result()
    return handle, caught.value


async def raw_history(plain: Client, workflow_id: str) -> WorkflowHistory:
    return await plain.get_workflow_handle(workflow_id).fetch_history()


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message, maps and lists included."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue  # a scalar
        if field.message_type.GetOptions().map_entry:
            children = list(value.values())
        elif field.is_repeated:
            children = list(value)
        else:
            children = [value]
        for child in children:
            if isinstance(child, Message):
                yield from payloads_in(child)


def payloads_of(history: WorkflowHistory, event_type: EventType.ValueType) -> list[Payload]:
    return [
        payload
        for event in history.events
        if event.event_type == event_type
        for payload in payloads_in(event)
    ]


def key_ids_in(history: WorkflowHistory) -> set[bytes]:
    return {
        payload.metadata[KEY_ID_METADATA]
        for event in history.events
        for payload in payloads_in(event)
    }


def assert_no_marker(history: WorkflowHistory) -> None:
    # The JSON shows payload data as base64, so it alone would not catch a plain
    # payload; the serialized protobuf holds payload bytes as they are.
    assert MARKER not in history.to_json()
    assert MARKER.encode() not in History(events=history.events).SerializeToString()


def assert_all_encrypted(payloads: list[Payload]) -> None:
    assert payloads, "the event carries payloads"
    for payload in payloads:
        assert payload.metadata["encoding"] == ENCODING
        assert payload.metadata[KEY_ID_METADATA]


async def test_workflow_input_and_result_are_ciphertext_in_history(
    temporal_server: TemporalDevServer,
) -> None:
    keyring = Keyring(new_keyring("k1"))
    client = await connect(temporal_server, keyring)
    async with running_worker(client) as task_queue:
        handle = await run_greeting(client, task_queue)

    history = await raw_history(await connect(temporal_server, None), handle.id)
    assert_no_marker(history)
    started = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    assert_all_encrypted(payloads_of(history, started))
    assert_all_encrypted(payloads_of(history, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED))
    # Activity inputs and results too: every payload in the history is encrypted.
    assert_all_encrypted([p for event in history.events for p in payloads_in(event)])
    assert await handle.result() == f"synced {MARKER}"


async def test_without_the_codec_history_shows_the_marker(
    temporal_server: TemporalDevServer,
) -> None:
    # The control for the test above: the probe does find plain payloads.
    client = await connect(temporal_server, None)
    async with running_worker(client) as task_queue:
        handle = await run_greeting(client, task_queue)
    history = await raw_history(client, handle.id)
    with pytest.raises(AssertionError):
        assert_no_marker(history)


async def test_failure_message_is_ciphertext_in_history(
    temporal_server: TemporalDevServer,
) -> None:
    client = await connect(temporal_server, Keyring(new_keyring("k1")))
    async with running_worker(client) as task_queue:
        handle, failure_error = await run_refusal(client, task_queue)

    activity_error = failure_error.cause
    assert isinstance(activity_error, ActivityError)
    refusal = activity_error.cause
    assert isinstance(refusal, ApplicationError)
    assert refusal.message == f"no consent from {MARKER}"
    assert refusal.type == "ConsentMissing"
    assert refusal.details == (MARKER,)

    history = await raw_history(await connect(temporal_server, None), handle.id)
    assert_no_marker(history)
    [failed] = [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    ]
    failure = failed.workflow_execution_failed_event_attributes.failure
    # The failure converter moved message and stack trace into a payload the codec encrypted.
    assert failure.cause.message == "Encoded failure"
    assert not failure.cause.stack_trace
    assert_all_encrypted([failure.encoded_attributes, failure.cause.encoded_attributes])
    assert_all_encrypted([p for event in history.events for p in payloads_in(event)])


async def test_without_encoded_failure_attributes_history_shows_the_message(
    temporal_server: TemporalDevServer,
) -> None:
    # The control for the test above: the codec alone leaves failure messages and
    # stack traces in plain text; data_converter's failure converter is what hides them.
    codec_only = dataclasses.replace(
        DataConverter.default, payload_codec=EncryptionCodec(Keyring(new_keyring("k1")))
    )
    client = await connect_with(temporal_server, codec_only)
    async with running_worker(client) as task_queue:
        handle, _ = await run_refusal(client, task_queue)
    history = await raw_history(await connect(temporal_server, None), handle.id)
    assert f"no consent from {MARKER}" in history.to_json()


async def test_after_rotation_old_histories_read_and_new_ones_use_the_newer_key(
    temporal_server: TemporalDevServer,
) -> None:
    keys = new_keyring("k1", "k2")
    before = await connect(temporal_server, Keyring({"k1": keys["k1"]}))
    async with running_worker(before) as task_queue:
        old = await run_greeting(before, task_queue)

    after = await connect(temporal_server, Keyring(keys))
    assert await after.get_workflow_handle(old.id).result() == f"synced {MARKER}"
    async with running_worker(after) as task_queue:
        new = await run_greeting(after, task_queue)

    plain = await connect(temporal_server, None)
    assert key_ids_in(await raw_history(plain, old.id)) == {b"k1"}
    assert key_ids_in(await raw_history(plain, new.id)) == {b"k2"}


async def test_client_without_the_key_gets_an_error_naming_it(
    temporal_server: TemporalDevServer,
) -> None:
    writer = await connect(temporal_server, Keyring(new_keyring("k1")))
    async with running_worker(writer) as task_queue:
        handle = await run_greeting(writer, task_queue)

    stranger = await connect(temporal_server, Keyring(new_keyring("k0")))
    with pytest.raises(UnknownKeyError, match=r"key id 'k1', which the keyring lacks"):
        await stranger.get_workflow_handle(handle.id).result()
