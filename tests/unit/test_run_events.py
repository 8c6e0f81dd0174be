"""A failed sync run is a Warning Event whose reason is the type the worker gave the failure,
posted once: when the operator first writes that run into the status."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import kopf
import pytest

from contactsync_api.errors import ErrorType
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.status import LastSync, SyncResult
from contactsync_operator import metrics
from contactsync_operator.conditions import Outcome, build_status
from contactsync_operator.planner import plan
from contactsync_operator.reconcile import Result
from contactsync_operator.run_events import RUN_FAILED, failed_runs
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example
from tests.operator_state import in_sync

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = OperatorSettings()

FINISHED = "2025-01-01T10:00:00+00:00"


def region(result: str, workflow_id: str = "run-1", **last: Any) -> dict[str, Any]:
    return {
        "name": "eu",
        "lastSync": {"result": result, "workflowId": workflow_id, "finishedAt": FINISHED, **last},
    }


REFUSED = region(
    "Failed",
    failureType="SourceAuthenticationRefused",
    message="CardDAV source 'team' at dav.example: authentication failed (HTTP 401)",
)


def test_a_run_first_seen_failed_is_a_warning_with_its_type_as_reason() -> None:
    assert failed_runs([region("Running", finishedAt=None)], [REFUSED]) == [
        (
            "Warning",
            "SourceAuthenticationRefused",
            "region eu: CardDAV source 'team' at dav.example: authentication failed (HTTP 401)",
        )
    ]


def test_the_same_failed_run_is_not_reported_again() -> None:
    assert failed_runs([REFUSED], [REFUSED]) == []


def test_the_next_run_failing_the_same_way_is_reported_again() -> None:
    again = {**REFUSED, "lastSync": {**REFUSED["lastSync"], "workflowId": "run-2"}}
    assert len(failed_runs([REFUSED], [again])) == 1


def test_a_blocked_run_is_reported_and_a_succeeded_one_is_not() -> None:
    blocked = region("Blocked", failureType="MassDeleteBlocked", message="this sync would …")
    assert [reason for _, reason, _ in failed_runs([], [blocked])] == ["MassDeleteBlocked"]
    assert failed_runs([], [region("Succeeded")]) == []
    assert failed_runs([], [{"name": "us", "servedHere": False}]) == []


def test_a_run_temporal_ended_without_a_type_is_reported_as_failed() -> None:
    [(_, reason, message)] = failed_runs([], [region("Failed")])
    assert (reason, message) == (RUN_FAILED, "region eu: the sync run failed")


async def test_the_handler_posts_the_event_of_a_run_it_writes_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_PLAINTEXT", "true")  # settings are read at import
    handlers = importlib.import_module("contactsync_operator.handlers")
    document = example("multi-region")
    document["metadata"].update(uid="uid-1", generation=3)
    res = parse_contact_sync(document)
    observed = in_sync(res, SETTINGS, ready=1)
    the_plan = plan(res, observed, SETTINGS)
    outcome = Outcome(schedules_present=set(observed.schedules))
    status = build_status(res, the_plan, observed, outcome, [], NOW)
    failed = LastSync(
        result=SyncResult.FAILED,
        workflow_id="run-1",
        finished_at=NOW,
        failure_type=ErrorType.SOURCE_NOT_FOUND,
        message="CardDAV source 'team' at dav.example: REPORT: collection not found (HTTP 404)",
    )
    regions = [status.regions[0].model_copy(update={"last_sync": failed}), *status.regions[1:]]
    status = status.model_copy(update={"regions": regions})
    warned: list[tuple[str, str]] = []
    monkeypatch.setattr(
        handlers.kopf, "warn", lambda _, *, reason, message: warned.append((reason, message))
    )
    body = kopf.Body(cast(kopf.RawBody, document))
    memo = kopf.Memo(reconciler=Replay(Result(status, the_plan, outcome, [], {})))
    try:
        await handlers.reconcile(body=body, status=body.status, patch=kopf.Patch(), memo=memo)
    finally:
        metrics.CONTACTSYNCS.forget(res.namespace, res.name)
    assert warned == [("SourceNotFound", f"region {regions[0].name}: {failed.message}")]


@dataclass
class Replay:
    """A reconciler that returns what a real one computed."""

    result: Result

    async def reconcile(
        self, resource: ContactSync, conditions: list[Any], listing_age: float = 0.0
    ) -> Result:
        return self.result
