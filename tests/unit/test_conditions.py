"""Status from plan, observation and outcome: conditions a person and kubectl wait can trust."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contactsync_api.errors import ErrorType
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.reasons import Reason
from contactsync_api.status import serialized
from contactsync_api.workflows import SyncSummary
from contactsync_operator.conditions import (
    Outcome,
    Problem,
    build_status,
    reconcile_outcome,
    spec_refused,
)
from contactsync_operator.observed import (
    Observed,
    ObservedRun,
)
from contactsync_operator.planner import plan
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example
from tests.operator_state import in_sync

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = OperatorSettings()


def resource() -> ContactSync:
    document = example("multi-region")
    document["metadata"].update(uid="uid-1", generation=3)
    return parse_contact_sync(document)


def running(res: ContactSync, ready: int = 2, last: ObservedRun | None = None) -> Observed:
    return in_sync(res, SETTINGS, ready=ready, next_run=NOW + timedelta(minutes=15), last_run=last)


def status_of(
    observed: Observed, outcome: Outcome | None = None, previous: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    res = resource()
    the_plan = plan(res, observed, SETTINGS)
    outcome = outcome or Outcome(schedules_present=set(observed.schedules))
    return serialized(build_status(res, the_plan, observed, outcome, previous or [], NOW))


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


@pytest.mark.parametrize(
    ("ready", "problem", "expected"),
    [
        (
            2,
            None,
            {
                "Ready": ("True", "Reconciled"),
                "Progressing": ("False", "Idle"),
                "Degraded": ("False", "AsExpected"),
                "Reconciling": ("False", "Reconciled"),
                "Stalled": ("False", "AsExpected"),
            },
        ),
        (
            0,
            None,
            {
                "Ready": ("False", "WorkersNotReady"),
                "Progressing": ("True", "WaitingForWorkers"),
                "Degraded": ("False", "AsExpected"),
                "Reconciling": ("True", "WaitingForWorkers"),
                "Stalled": ("False", "AsExpected"),
            },
        ),
        (
            2,
            Problem(Reason.SCHEDULE_FAILED, "boom"),
            {
                "Ready": ("False", "ScheduleFailed"),
                "Progressing": ("False", "Idle"),
                "Degraded": ("True", "ScheduleFailed"),
                # Retried every reconcile: still getting there, not waiting for a person.
                "Reconciling": ("True", "ScheduleFailed"),
                "Stalled": ("False", "AsExpected"),
            },
        ),
        (
            2,
            Problem(Reason.CHILD_OWNED_ELSEWHERE, "Deployment x is held by y"),
            {
                "Ready": ("False", "ChildOwnedElsewhere"),
                "Progressing": ("False", "Idle"),
                "Degraded": ("True", "ChildOwnedElsewhere"),
                "Reconciling": ("False", "Stalled"),
                "Stalled": ("True", "ChildOwnedElsewhere"),
            },
        ),
    ],
)
def test_conditions(
    ready: int, problem: Problem | None, expected: dict[str, tuple[str, str]]
) -> None:
    observed = running(resource(), ready=ready)
    outcome = Outcome(
        problems=[problem] if problem else [], schedules_present=set(observed.schedules)
    )
    status = status_of(observed, outcome)
    assert conditions(status) == expected
    assert status["observedGeneration"] == 3
    assert all(c["observedGeneration"] == 3 for c in status["conditions"])


def test_temporal_down_is_degraded_and_named() -> None:
    observed = running(resource())
    observed.temporal_error = "connect to localhost:7233: connection refused"
    status = status_of(observed)
    assert conditions(status)["Degraded"] == ("True", "TemporalUnavailable")
    assert (
        "connection refused"
        in next(c for c in status["conditions"] if c["type"] == "Degraded")["message"]
    )


@pytest.mark.parametrize(
    ("temporal_error", "problems", "expected"),
    [
        (None, [], "ok"),
        # Nothing failed while applying, but Temporal could not be read: the status says
        # Degraded, and so must the metric.
        ("list schedules: timeout", [], "degraded"),
        (None, [Problem(Reason.SCHEDULE_FAILED, "refused")], "degraded"),
    ],
)
def test_the_metrics_outcome_is_degraded_exactly_when_the_status_is(
    temporal_error: str | None, problems: list[Problem], expected: str
) -> None:
    observed = running(resource())
    observed.temporal_error = temporal_error
    outcome = Outcome(problems=problems, schedules_present=set(observed.schedules))
    res = resource()
    status = build_status(res, plan(res, observed, SETTINGS), observed, outcome, [], NOW)
    assert reconcile_outcome(status) == expected
    assert (conditions(serialized(status))["Degraded"][0] == "True") == (expected == "degraded")


def test_transition_time_moves_only_when_the_status_does() -> None:
    earlier = "2026-11-25T08:00:00+00:00"
    previous = [
        {"type": "Ready", "status": "True", "lastTransitionTime": earlier},
        {"type": "Degraded", "status": "True", "lastTransitionTime": earlier},
    ]
    status = status_of(running(resource()), previous=previous)
    times = {c["type"]: c["lastTransitionTime"] for c in status["conditions"]}
    assert times["Ready"] == earlier
    assert times["Degraded"] == NOW.isoformat()


def test_last_run_counts_and_a_blocked_run_are_reported() -> None:
    done = ObservedRun(
        "wf-1",
        NOW - timedelta(minutes=2),
        NOW - timedelta(minutes=1),
        "COMPLETED",
        summary=SyncSummary(created=10, updated=3, deleted=1, skipped_no_consent=4),
    )
    status = status_of(running(resource(), last=done))
    last = status["regions"][0]["lastSync"]
    assert (
        last["result"],
        last["created"],
        last["updated"],
        last["deleted"],
        last["skippedNoConsent"],
    ) == ("Succeeded", 10, 3, 1, 4)
    assert status["lastSyncTime"] == done.closed_at.isoformat()  # type: ignore[union-attr]
    assert status["regionsReady"] == "2/2"
    blocked = ObservedRun(
        "wf-2",
        NOW,
        NOW,
        "FAILED",
        failure="this sync would delete 5 of 10 contacts",
        failure_type=ErrorType.MASS_DELETE_BLOCKED,
    )
    last = status_of(running(resource(), last=blocked))["regions"][0]["lastSync"]
    assert (last["result"], last["failureType"]) == ("Blocked", "MassDeleteBlocked")


def test_values_dropped_and_records_quarantined_reach_the_status_as_counts() -> None:
    summary = SyncSummary(
        created=2,
        quarantined=3,
        dropped_emails=4,
        dropped_phones=1,
        quarantined_invalid_values=2,
        quarantined_no_identity=1,
    )
    done = ObservedRun("wf-5", NOW, NOW, "COMPLETED", summary=summary)
    last = status_of(running(resource(), last=done))["regions"][0]["lastSync"]
    counts = ("quarantined", "droppedEmails", "droppedPhones", "quarantinedInvalidValues")
    assert [last[c] for c in counts] == [3, 4, 1, 2]
    assert last["quarantinedNoIdentity"] == 1


def test_a_failed_run_shows_the_type_the_worker_gave_it() -> None:
    refused = ObservedRun(
        "wf-3",
        NOW,
        NOW,
        "FAILED",
        failure="CardDAV source 'team' at dav.example: authentication failed (HTTP 401)",
        failure_type=ErrorType.SOURCE_AUTHENTICATION_REFUSED,
    )
    last = status_of(running(resource(), last=refused))["regions"][0]["lastSync"]
    assert (last["result"], last["failureType"]) == ("Failed", "SourceAuthenticationRefused")
    assert last["message"].startswith("CardDAV source 'team'")
    timed_out = ObservedRun("wf-4", NOW, NOW, "TIMED_OUT")
    last = status_of(running(resource(), last=timed_out))["regions"][0]["lastSync"]
    assert last["result"] == "Failed"
    assert "failureType" not in last, "Temporal gave it no type"


def test_a_spec_the_model_refuses_is_degraded_and_stalled_for_a_person() -> None:
    before = status_of(running(resource()))["conditions"]
    message = "spec.sources[0].ldap.filter: not an LDAP search filter (RFC 4515): ..."
    later = NOW + timedelta(minutes=5)
    conditions = {c["type"]: c for c in spec_refused(before, message, 4, later)}
    for kind in ("Ready", "Degraded", "Stalled"):
        assert conditions[kind]["reason"] == "InvalidSpec"
        assert conditions[kind]["message"] == message
        assert conditions[kind]["observedGeneration"] == 4
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Degraded"]["status"] == conditions["Stalled"]["status"] == "True"
    assert conditions["Reconciling"]["status"] == conditions["Progressing"]["status"] == "False"
    # Ready was True before: it moved now; Progressing was False already and keeps its time.
    moved = {kind for kind, c in conditions.items() if c["lastTransitionTime"] == later.isoformat()}
    assert moved == {"Ready", "Degraded", "Stalled"}
