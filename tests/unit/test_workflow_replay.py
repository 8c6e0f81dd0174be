"""Recorded histories replay on today's workflow code, without a server.

Each file in tests/histories is a real run recorded by ``python -m tests.record_histories``.
If one stops replaying, a workflow change would break runs already in flight: put the change
behind ``workflow.patched()`` or a new workflow type instead of re-recording.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer, WorkflowReplayResult
from temporalio.workflow import NondeterminismError

from contactsync_api.workflows import (
    ERASURE_WORKFLOW,
    PURGE_WORKFLOW,
    RETENTION_WORKFLOW,
    SUPPRESSION_LIFT_WORKFLOW,
    SYNC_WORKFLOW,
    SyncInput,
    SyncSummary,
)
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring
from contactsync_worker.workflows import WORKFLOWS, ContactSyncWorkflow
from tests.record_histories import unencrypted_payloads

HISTORIES = Path(__file__).parents[1] / "histories"
RECORDED = sorted(HISTORIES.glob("*.json"))


def load(path: Path) -> WorkflowHistory:
    """The file name is the workflow id the recording script gave the run."""
    return WorkflowHistory.from_json(path.stem, path.read_text())


def recorded_keyring() -> Keyring:
    return Keyring.from_directory(HISTORIES / "keys")


async def replay(
    history: WorkflowHistory,
    workflows: list[type] | None = None,
    keyring: Keyring | None = None,
) -> WorkflowReplayResult:
    replayer = Replayer(
        workflows=workflows or WORKFLOWS,
        data_converter=data_converter(keyring or recorded_keyring()),
    )
    return await replayer.replay_workflow(history, raise_on_replay_failure=False)


def started_type(history: WorkflowHistory) -> str:
    return history.events[0].workflow_execution_started_event_attributes.workflow_type.name


def scheduled(events: list[HistoryEvent]) -> list[int]:
    """Indexes of the activity-scheduled events."""
    wanted = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return [i for i, event in enumerate(events) if event.event_type == wanted]


def copied_events(name: str) -> list[HistoryEvent]:
    events = []
    for event in load(HISTORIES / f"{name}.json").events:
        copy = HistoryEvent()
        copy.CopyFrom(event)
        events.append(copy)
    return events


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
async def test_recorded_history_replays_on_current_workflow_code(path: Path) -> None:
    result = await replay(load(path))
    assert result.replay_failure is None, f"{path.name} no longer replays: {result.replay_failure}"


def test_every_workflow_type_has_a_recorded_history() -> None:
    recorded = {started_type(load(path)) for path in RECORDED}
    assert recorded == {
        SYNC_WORKFLOW,
        RETENTION_WORKFLOW,
        ERASURE_WORKFLOW,
        SUPPRESSION_LIFT_WORKFLOW,
        PURGE_WORKFLOW,
    }
    assert len(WORKFLOWS) == len(recorded), "a new workflow type needs a recorded history"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_recorded_history_holds_only_encrypted_payloads(path: Path) -> None:
    assert unencrypted_payloads(load(path).events) == []


# The tests below prove the replay test can fail: each breaks one recorded history or
# the code it replays on, the way a careless change would.


async def test_a_history_with_its_activities_reordered_does_not_replay() -> None:
    events = copied_events("first-sync")
    _, page, removals = (
        events[i].activity_task_scheduled_event_attributes for i in scheduled(events)
    )
    page.activity_type.name, removals.activity_type.name = (
        removals.activity_type.name,
        page.activity_type.name,
    )
    result = await replay(WorkflowHistory("first-sync", events))
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    assert "does not match activity type" in str(result.replay_failure)


async def test_a_history_missing_a_scheduled_activity_does_not_replay() -> None:
    events = copied_events("second-sync")
    del events[scheduled(events)[-1]]
    result = await replay(WorkflowHistory("second-sync", events))
    assert result.replay_failure is not None
    assert "History is out of order" in str(result.replay_failure)


async def test_a_history_without_its_key_does_not_replay() -> None:
    """Replay decodes every payload: without the key it fails instead of passing unread."""
    result = await replay(
        load(HISTORIES / "erasure.json"), keyring=Keyring({"k9999": os.urandom(32)})
    )
    assert result.replay_failure is not None
    assert "UnknownKeyError" in str(result.replay_failure)


def test_a_payload_in_clear_is_found() -> None:
    events = copied_events("erasure")
    started = events[0].workflow_execution_started_event_attributes
    started.input.payloads[0].CopyFrom(DataConverter.default.payload_converter.to_payload("x"))
    assert unencrypted_payloads(events) == [
        "event[0].workflow_execution_started_event_attributes.input.payloads[0]"
    ]


NOTIFY = "notify_start"


@workflow.defn(name=SYNC_WORKFLOW, sandboxed=False)
class SyncWithANewFirstStep:
    """The sync as a later change might write it: one more activity before the plan."""

    @workflow.run
    async def run(self, sync: SyncInput) -> SyncSummary:
        await workflow.execute_activity(
            NOTIFY, sync.request, start_to_close_timeout=timedelta(minutes=1)
        )
        return await ContactSyncWorkflow().run(sync)


@workflow.defn(name=SYNC_WORKFLOW, sandboxed=False)
class SyncWithANewFirstStepPatched:
    """The same change behind ``workflow.patched``, as it should be made."""

    @workflow.run
    async def run(self, sync: SyncInput) -> SyncSummary:
        if workflow.patched(NOTIFY):
            await workflow.execute_activity(
                NOTIFY, sync.request, start_to_close_timeout=timedelta(minutes=1)
            )
        return await ContactSyncWorkflow().run(sync)


async def test_a_step_added_without_patching_breaks_recorded_histories() -> None:
    result = await replay(load(HISTORIES / "first-sync.json"), [SyncWithANewFirstStep])
    assert isinstance(result.replay_failure, NondeterminismError), result.replay_failure
    assert NOTIFY in str(result.replay_failure)


async def test_the_same_step_behind_patched_replays() -> None:
    result = await replay(load(HISTORIES / "first-sync.json"), [SyncWithANewFirstStepPatched])
    assert result.replay_failure is None, result.replay_failure
