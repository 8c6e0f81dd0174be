"""The status the operator writes fits the CRD it ships: nothing in it is pruned or refused.

The API server drops a status field its CRD does not declare without an error; these tests
check every status the operator builds, in the situations it reports, against the schema
generated from the same model (``contactsync crd``), field by field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from contactsync_api.crd import crd_manifest
from contactsync_api.errors import ErrorType
from contactsync_api.reasons import Reason
from contactsync_api.status import ContactSyncStatus, serialized
from contactsync_api.workflows import SyncSummary
from contactsync_operator.conditions import (
    Outcome,
    Problem,
    build_status,
    deletion_waits,
    spec_refused,
)
from contactsync_operator.observed import Observed, ObservedRun, RegionAccess
from contactsync_operator.planner import plan
from contactsync_operator.settings import OperatorSettings
from tests.structural_schema import violations
from tests.unit.test_conditions import NOW, resource, running, status_of

Status = dict[str, Any]
EU = "eu-central-1"
DONE = ObservedRun(
    "wf-1",
    NOW - timedelta(minutes=2),
    NOW - timedelta(minutes=1),
    "COMPLETED",
    summary=SyncSummary(
        created=10,
        updated=3,
        deleted=1,
        unchanged=7,
        skipped_no_consent=4,
        quarantined=1,
        audit_checkpoint="v1.head.signature",
    ),
)
MASS_DELETE_BLOCKED = ObservedRun(
    "wf-2",
    NOW,
    NOW,
    "FAILED",
    failure="this sync would delete 5 of 10 contacts",
    failure_type=ErrorType.MASS_DELETE_BLOCKED,
)


def status_schema() -> Status:
    version = crd_manifest()["spec"]["versions"][0]
    schema: Status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    return schema


def with_problems(*problems: Problem) -> Status:
    observed = running(resource())
    outcome = Outcome(problems=list(problems), schedules_present=set(observed.schedules))
    return status_of(observed, outcome)


def temporal_unavailable() -> Status:
    observed = running(resource())
    observed.temporal_error = "connect to localhost:7233: connection refused"
    return status_of(observed)


def secret_missing() -> Status:
    observed = running(resource())
    observed.access[EU] = RegionAccess(EU, "Secret x does not exist", Reason.SECRET_MISSING)
    return status_of(observed)


def egress_not_allowed() -> Status:
    observed = running(resource())
    observed.egress_policies = ()  # observed, and none selects the namespace
    return status_of(observed)


def served_elsewhere() -> Status:
    res, settings = resource(), OperatorSettings(served_regions=frozenset({EU}))
    observed = running(res)
    outcome = Outcome(schedules_present=set(observed.schedules))
    return serialized(build_status(res, plan(res, observed, settings), observed, outcome, [], NOW))


def transition_times_carried_over() -> Status:
    earlier = ["2026-11-25T08:00:00Z", "2026-11-25T08:00:00.5+01:00", "not a time"]
    previous = [
        {"type": kind, "status": "True", "lastTransitionTime": when}
        for kind, when in zip(("Ready", "Degraded", "Reconciling"), earlier, strict=True)
    ]
    return status_of(running(resource()), previous=previous)


def deletion_blocked() -> Status:
    previous = status_of(running(resource()))["conditions"]
    message = "deletion waits (attempt 1): Temporal is unavailable: connection refused"
    return {"conditions": deletion_waits(previous, message, 3, NOW)}


def spec_refused_by_the_model() -> Status:
    previous = status_of(running(resource()))["conditions"]
    message = "spec.schedule.timeZone: 'Europe/Berln' is not a time zone of the IANA database"
    return {"observedGeneration": 4, "conditions": spec_refused(previous, message, 4, NOW)}


SITUATIONS: dict[str, Callable[[], Status]] = {
    "ready": lambda: status_of(running(resource())),
    "workers not ready": lambda: status_of(running(resource(), ready=0)),
    "applying everything": lambda: status_of(Observed()),
    "a problem retried": lambda: with_problems(Problem(Reason.SCHEDULE_FAILED, "refused")),
    "a problem for a person": lambda: with_problems(
        Problem(Reason.CHILD_OWNED_ELSEWHERE, "Deployment x is held by y"),
        Problem(Reason.APPLY_FAILED, "conflict"),
    ),
    "region purge blocked": lambda: with_problems(
        Problem(Reason.REGION_PURGE_BLOCKED, "region ap-south-1 left the spec")
    ),
    "temporal unavailable": temporal_unavailable,
    "secret missing": secret_missing,
    "egress not allowed": egress_not_allowed,
    "last run counted": lambda: status_of(running(resource(), last=DONE)),
    "mass delete blocked": lambda: status_of(running(resource(), last=MASS_DELETE_BLOCKED)),
    "run still running": lambda: status_of(
        running(resource(), last=ObservedRun("wf-3", NOW, None, "RUNNING"))
    ),
    "region served elsewhere": served_elsewhere,
    "transition times carried over": transition_times_carried_over,
    "deletion blocked": deletion_blocked,
    "spec refused by the model": spec_refused_by_the_model,
}


@pytest.mark.parametrize("situation", SITUATIONS)
def test_the_status_written_fits_the_crd(situation: str) -> None:
    assert violations(status_schema(), SITUATIONS[situation]()) == []


def test_the_situations_write_every_field_the_crd_declares() -> None:
    """Otherwise a field could drift from the CRD without any situation above noticing."""
    written = {path for build in SITUATIONS.values() for path in paths_in(build())}
    assert written == set(paths_in_schema(status_schema()))


# The checker itself: each would-be loss is caught.


class StatusWithAnUndeclaredField(ContactSyncStatus):
    phase: str = "Running"


def test_a_model_field_the_crd_lacks_is_caught() -> None:
    status = serialized(StatusWithAnUndeclaredField(observed_generation=1, phase="Running"))
    assert violations(status_schema(), status) == [
        "$.phase: not in the schema, so the API server prunes it"
    ]


def _set(path: tuple[str | int, ...], value: Any) -> Callable[[Status], None]:
    def change(status: Status) -> None:
        *parents, last = path
        node: Any = status
        for step in parents:
            node = node[step]
        node[last] = value

    return change


def _drop(path: tuple[str | int, ...]) -> Callable[[Status], None]:
    def change(status: Status) -> None:
        *parents, last = path
        node: Any = status
        for step in parents:
            node = node[step]
        del node[last]

    return change


def _twice_ready(status: Status) -> None:
    status["conditions"].append(dict(status["conditions"][0]))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            _set(("regions", 0, "workers", "idle"), 1),
            "$.regions[0].workers.idle: not in the schema, so the API server prunes it",
            id="an undeclared field",
        ),
        pytest.param(
            _set(("conditions", 0, "severity"), "High"),
            "$.conditions[0].severity: not in the schema",
            id="an undeclared field of a list item",
        ),
        pytest.param(
            _set(("lastSyncTime",), None),
            "$.lastSyncTime: null, which the API server prunes",
            id="a null",
        ),
        pytest.param(
            _set(("observedGeneration",), "3"),
            "$.observedGeneration: '3' is not of type integer",
            id="a string for an integer",
        ),
        pytest.param(
            _set(("regions", 0, "workers", "ready"), True),
            "$.regions[0].workers.ready: True is not of type integer",
            id="a boolean for an integer",
        ),
        pytest.param(
            _set(("regions", 0, "servedHere"), 1),
            "$.regions[0].servedHere: 1 is not of type boolean",
            id="an integer for a boolean",
        ),
        pytest.param(
            _set(("regions", 0, "lastSync", "result"), "Exploded"),
            "$.regions[0].lastSync.result: 'Exploded' is not one of",
            id="a value outside the enum",
        ),
        pytest.param(
            _set(("conditions", 0, "lastTransitionTime"), "yesterday"),
            "$.conditions[0].lastTransitionTime: 'yesterday' is not an RFC 3339 date-time",
            id="a time that is not one",
        ),
        pytest.param(
            _drop(("conditions", 0, "reason")),
            "$.conditions[0].reason: required, and missing",
            id="a required field missing",
        ),
        pytest.param(
            _twice_ready,
            "$.conditions: two items share the map key ['type']",
            id="a map key twice",
        ),
    ],
)
def test_the_checker_reports_what_the_api_server_would_prune_or_refuse(
    change: Callable[[Status], None], expected: str
) -> None:
    status = status_of(running(resource(), last=DONE))
    assert violations(status_schema(), status) == []
    change(status)
    found = violations(status_schema(), status)
    assert [v[: len(expected)] for v in found] == [expected], found


def paths_in(value: Any, path: str = "$") -> Iterator[str]:
    """Field paths of a written status, list indices left out."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield f"{path}.{name}"
            yield from paths_in(item, f"{path}.{name}")
    elif isinstance(value, list):
        for item in value:
            yield from paths_in(item, f"{path}[]")


def paths_in_schema(schema: Status, path: str = "$") -> Iterator[str]:
    for name, node in schema.get("properties", {}).items():
        yield f"{path}.{name}"
        yield from paths_in_schema(node, f"{path}.{name}")
    if "items" in schema:
        yield from paths_in_schema(schema["items"], f"{path}[]")
