"""Temporal I/O of the operator: connect with the region's codec, read and change schedules.

Errors leave this module as TemporalUnavailable (cannot reach or talk to the
server) or ScheduleError, never as the SDK's RPCError.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable

from temporalio.api.common.v1 import Payload
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleUpdate,
    ScheduleUpdateInput,
    TLSConfig,
    WorkflowExecutionStatus,
    WorkflowFailureError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from contactsync_api.errors import ErrorType
from contactsync_api.workflows import SyncSummary
from contactsync_operator.observed import ObservedRun, ObservedSchedule
from contactsync_operator.planner import (
    CreateSchedule,
    DeleteSchedule,
    ScheduleChange,
    UpdateSchedule,
)
from contactsync_operator.schedules import FINGERPRINT_MEMO, PAUSED_MEMO
from contactsync_operator.settings import TemporalConnection
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring


class TemporalUnavailable(RuntimeError):
    """The Temporal frontend cannot be reached or refused the operator."""


class ScheduleError(RuntimeError):
    """A schedule could not be changed; the message names it."""


def _unavailable(action: str, exc: Exception) -> TemporalUnavailable:
    return TemporalUnavailable(f"{action}: {exc}")


async def connect(
    connection: TemporalConnection, namespace: str, keyring: Keyring | None
) -> Client:
    """A client whose payloads go through the region's codec; without a keyring, for
    calls that carry no payloads (listing and deleting schedules)."""
    tls: TLSConfig | bool = False
    if connection.tls_ca_file or connection.tls_cert_file:
        tls = TLSConfig(
            server_root_ca_cert=connection.tls_ca_file.read_bytes()
            if connection.tls_ca_file
            else None,
            client_cert=connection.tls_cert_file.read_bytes() if connection.tls_cert_file else None,
            client_private_key=connection.tls_key_file.read_bytes()
            if connection.tls_key_file
            else None,
        )
    api_key = connection.api_key_file.read_text().strip() if connection.api_key_file else None
    try:
        return await Client.connect(
            connection.address,
            namespace=namespace,
            tls=tls or bool(api_key),
            api_key=api_key,
            data_converter=data_converter(keyring) if keyring else DataConverter.default,
            identity="contactsync-operator",
        )
    except (RPCError, RuntimeError) as exc:
        raise _unavailable(f"connect to {connection.address}", exc) from exc


async def list_schedule_ids(client: Client, prefix: str) -> set[str]:
    try:
        return {
            entry.id async for entry in await client.list_schedules() if entry.id.startswith(prefix)
        }
    except RPCError as exc:
        raise _unavailable("list schedules", exc) from exc


async def observe_schedules(
    client: Client, schedule_ids: Iterable[str]
) -> dict[str, ObservedSchedule]:
    observed: dict[str, ObservedSchedule] = {}
    for schedule_id in schedule_ids:
        try:
            description = await client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                continue
            raise _unavailable(f"describe schedule {schedule_id}", exc) from exc
        observed[schedule_id] = await _observed(client, description)
    return observed


async def _memo_value(client: Client, raw: Payload | None) -> object:
    if raw is None:
        return None
    [value] = await client.data_converter.decode([raw])
    return value


async def _observed(client: Client, description: ScheduleDescription) -> ObservedSchedule:
    action = description.schedule.action
    fingerprint = paused = None
    if isinstance(action, ScheduleActionStartWorkflow) and action.memo:
        memo = dict(action.memo)
        fingerprint = await _memo_value(client, memo.get(FINGERPRINT_MEMO))
        paused = await _memo_value(client, memo.get(PAUSED_MEMO))
    upcoming = description.info.next_action_times
    recent = description.info.recent_actions
    return ObservedSchedule(
        schedule_id=description.id,
        fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        applied_paused=paused if isinstance(paused, bool) else None,
        paused=description.schedule.state.paused,
        next_run=upcoming[0] if upcoming else None,
        last_run=await observed_run(client, recent[-1].action) if recent else None,
    )


async def observed_run(client: Client, started: object) -> ObservedRun | None:
    """The run a schedule action started (``workflow_id``, ``first_execution_run_id``), followed
    to its latest run: a sync that continued as new is one run, and only the last of its chain
    says how it ended (the first one reads CONTINUED_AS_NEW)."""
    workflow_id = getattr(started, "workflow_id", None)
    if not workflow_id:
        return None
    # Schedules give every action a workflow id of its own, so the latest run under that id is
    # the end of this action's chain.
    handle = client.get_workflow_handle(workflow_id, result_type=SyncSummary)
    first_run = getattr(started, "first_execution_run_id", None)
    try:
        info = await handle.describe()
        first = (
            await client.get_workflow_handle(workflow_id, run_id=first_run).describe()
            if first_run and info.run_id != first_run
            else info
        )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None  # outlived the namespace's retention
        raise _unavailable(f"describe workflow {workflow_id}", exc) from exc
    status = info.status.name if info.status else "UNKNOWN"
    run = ObservedRun(workflow_id, first.start_time, info.close_time, status)
    if info.status == WorkflowExecutionStatus.COMPLETED:
        summary = await handle.result()
        return dataclasses.replace(
            run, summary=summary if isinstance(summary, SyncSummary) else None
        )
    if info.status in (WorkflowExecutionStatus.FAILED, WorkflowExecutionStatus.TIMED_OUT):
        try:
            await handle.result()
        except WorkflowFailureError as failure:
            kind, message = worker_failure(failure)
            return dataclasses.replace(run, failure=message, failure_type=kind)
    return run


def worker_failure(failure: BaseException) -> tuple[ErrorType | None, str]:
    """The type and message the worker gave a failed run: those of the first ApplicationError
    under Temporal's wrappers (a run whose removals activity was refused fails with "Activity
    task failed", whose cause is the worker's MassDeleteBlocked). Deeper causes are the errors
    the worker translated; their words are not meant for status."""
    cause: BaseException | None = failure
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = getattr(cause, "cause", None)
    if cause is None:
        return None, str(getattr(failure, "cause", None) or failure)
    return ErrorType.parse(cause.type), cause.message


async def apply_change(client: Client, change: ScheduleChange) -> None:
    try:
        if isinstance(change, CreateSchedule):
            await _create(client, change)
        elif isinstance(change, UpdateSchedule):
            await _update(client, change)
        else:
            await _delete(client, change)
    except RPCError as exc:
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            raise _unavailable("change schedule", exc) from exc
        raise ScheduleError(f"{type(change).__name__}: {exc}") from exc


async def _create(client: Client, change: CreateSchedule) -> None:
    desired = change.desired
    try:
        await client.create_schedule(desired.schedule_id, desired.schedule)
    except ScheduleAlreadyRunningError:
        # Created meanwhile (another replica, or a restart after the create): converge by update.
        await _update(client, UpdateSchedule(desired, keep_pause_state=False))


async def _update(client: Client, change: UpdateSchedule) -> None:
    desired = change.desired

    def updated(current: ScheduleUpdateInput) -> ScheduleUpdate:
        schedule = desired.schedule
        if change.keep_pause_state:
            schedule = dataclasses.replace(schedule, state=current.description.schedule.state)
        return ScheduleUpdate(schedule=schedule)

    await client.get_schedule_handle(desired.schedule_id).update(updated)


async def _delete(client: Client, change: DeleteSchedule) -> None:
    try:
        await client.get_schedule_handle(change.schedule_id).delete()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


async def delete_schedules(client: Client, prefix: str) -> list[str]:
    """Delete every schedule whose id starts with ``prefix``; returns the ids deleted."""
    deleted = []
    for schedule_id in sorted(await list_schedule_ids(client, prefix)):
        try:
            await _delete(client, DeleteSchedule(schedule_id))
        except RPCError as exc:
            raise _unavailable(f"delete schedule {schedule_id}", exc) from exc
        deleted.append(schedule_id)
    return deleted


async def run_to_completion(
    client: Client, workflow: str, request: object, workflow_id: str, task_queue: str, wait: float
) -> str:
    """Start ``workflow`` once (a rerun joins the running one) and wait up to ``wait`` seconds.

    Returns the final status name, or RUNNING when it has not finished yet.
    """
    try:
        handle = await client.start_workflow(
            workflow,
            request,
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )
    except WorkflowAlreadyStartedError:
        return "COMPLETED"  # the reuse policy refuses only after a successful run
    except RPCError as exc:
        raise _unavailable(f"start {workflow}", exc) from exc
    try:
        await asyncio.wait_for(handle.result(), timeout=wait)
    except TimeoutError:
        return "RUNNING"
    except WorkflowFailureError as exc:
        return f"FAILED: {exc.cause}"
    return "COMPLETED"


async def terminate_if_running(client: Client, workflow_id: str, reason: str) -> bool:
    """Terminate a workflow no worker will ever pick up; False when none is running."""
    try:
        await client.get_workflow_handle(workflow_id).terminate(reason=reason)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False  # never started, or already closed
        raise _unavailable(f"terminate {workflow_id}", exc) from exc
    return True
