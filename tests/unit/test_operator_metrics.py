"""Per-ContactSync metrics, set from the status the operator computes: what the alerts read."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any, cast

import kopf
import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from contactsync_api.errors import ErrorType
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.reasons import Reason
from contactsync_api.status import serialized
from contactsync_api.workflows import SyncSummary
from contactsync_operator import metrics
from contactsync_operator.conditions import Outcome, Problem, build_status, missing_schedules
from contactsync_operator.metrics import ContactSyncGauges
from contactsync_operator.observed import Observed, ObservedRun
from contactsync_operator.planner import plan
from contactsync_operator.reconcile import Result
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example
from tests.operator_state import in_sync

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = OperatorSettings()
EU = {"namespace": "contacts", "name": "global-phonebook", "region": "eu-central-1"}
US = {**EU, "region": "us-east-1"}
WHO = {"namespace": "contacts", "name": "global-phonebook"}


def resource() -> ContactSync:
    document = example("multi-region")
    document["metadata"].update(uid="uid-1", generation=3)
    return parse_contact_sync(document)


def finished(workflow: str, result: str, minute: int = 0) -> ObservedRun:
    """A run that closed with ``result``: COMPLETED, FAILED, or FAILED as MassDeleteBlocked."""
    closed = NOW + timedelta(minutes=minute)
    if result == "Blocked":
        return ObservedRun(
            workflow, NOW, closed, "FAILED", failure_type=ErrorType.MASS_DELETE_BLOCKED
        )
    if result == "Running":
        return ObservedRun(workflow, NOW, None, "RUNNING")
    summary = SyncSummary(created=1) if result == "COMPLETED" else None
    return ObservedRun(workflow, NOW, closed, result, summary=summary)


@dataclass
class Reconciled:
    status: dict[str, Any]
    missing: dict[str, int]


def reconciled(
    observed: Observed,
    outcome: Outcome | None = None,
    settings: OperatorSettings = SETTINGS,
) -> Reconciled:
    res = resource()
    the_plan = plan(res, observed, settings)
    outcome = outcome or Outcome(schedules_present=set(observed.schedules))
    status = serialized(build_status(res, the_plan, observed, outcome, [], NOW))
    return Reconciled(status, missing_schedules(the_plan, observed, outcome))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gauges(clock: Clock) -> ContactSyncGauges:
    return ContactSyncGauges(expire_after=180.0, clock=clock)


def registry_of(gauges: ContactSyncGauges) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(gauges)
    return registry


def record(gauges: ContactSyncGauges, state: Reconciled) -> CollectorRegistry:
    gauges.record("contacts", "global-phonebook", state.status, state.missing)
    return registry_of(gauges)


def test_a_running_contactsync_reports_ready_workers_and_all_its_schedules(
    gauges: ContactSyncGauges,
) -> None:
    registry = record(gauges, reconciled(in_sync(resource(), SETTINGS, ready=2)))
    assert registry.get_sample_value("contactsync_operator_ready", WHO) == 1
    assert (
        registry.get_sample_value("contactsync_operator_degraded", WHO | {"reason": "AsExpected"})
        == 0
    )
    for region in (EU, US):
        assert registry.get_sample_value("contactsync_operator_workers_desired", region) == 2
        assert registry.get_sample_value("contactsync_operator_workers_ready", region) == 2
        assert registry.get_sample_value("contactsync_operator_schedules_missing", region) == 0
        assert registry.get_sample_value("contactsync_operator_sync_failures_in_a_row", region) == 0


def test_workers_not_ready_and_a_problem_are_reported_with_its_reason(
    gauges: ContactSyncGauges,
) -> None:
    observed = in_sync(resource(), SETTINGS, ready=0)
    outcome = Outcome(
        problems=[Problem(Reason.APPLY_FAILED, "boom")], schedules_present=set(observed.schedules)
    )
    registry = record(gauges, reconciled(observed, outcome))
    assert registry.get_sample_value("contactsync_operator_ready", WHO) == 0
    assert (
        registry.get_sample_value("contactsync_operator_degraded", WHO | {"reason": "ApplyFailed"})
        == 1
    )
    assert registry.get_sample_value("contactsync_operator_workers_ready", EU) == 0
    assert registry.get_sample_value("contactsync_operator_workers_desired", EU) == 2


def test_a_schedule_that_could_not_be_created_is_missing(gauges: ContactSyncGauges) -> None:
    observed = in_sync(resource(), SETTINGS, ready=2)
    eu_sync = "contactsync/contacts/global-phonebook/eu-central-1/sync"
    outcome = Outcome(
        problems=[Problem(Reason.SCHEDULE_FAILED, "refused")],
        schedules_present=set(observed.schedules) - {eu_sync},
    )
    registry = record(gauges, reconciled(observed, outcome))
    assert registry.get_sample_value("contactsync_operator_schedules_missing", EU) == 1
    assert registry.get_sample_value("contactsync_operator_schedules_missing", US) == 0


def test_while_temporal_cannot_be_read_no_schedule_is_called_missing(
    gauges: ContactSyncGauges,
) -> None:
    observed = in_sync(resource(), SETTINGS, ready=2)
    observed.schedules.clear()
    observed.temporal_error = "connection refused"
    state = reconciled(observed)
    assert state.missing == {}
    registry = record(gauges, state)
    assert registry.get_sample_value("contactsync_operator_schedules_missing", EU) is None
    assert (
        registry.get_sample_value(
            "contactsync_operator_degraded", WHO | {"reason": "TemporalUnavailable"}
        )
        == 1
    )


def test_regions_served_elsewhere_have_no_region_series(gauges: ContactSyncGauges) -> None:
    settings = OperatorSettings(served_regions=frozenset({"eu-central-1"}))
    observed = in_sync(resource(), settings, regions={"eu-central-1"}, ready=2)
    registry = record(gauges, reconciled(observed, settings=settings))
    assert registry.get_sample_value("contactsync_operator_workers_ready", EU) == 2
    assert registry.get_sample_value("contactsync_operator_workers_ready", US) is None


def test_failed_runs_in_a_row_are_counted_once_each_and_a_success_resets_them(
    gauges: ContactSyncGauges,
) -> None:
    def after(run: ObservedRun) -> CollectorRegistry:
        return record(gauges, reconciled(in_sync(resource(), SETTINGS, ready=2, last_run=run)))

    def in_a_row(registry: CollectorRegistry) -> float | None:
        return registry.get_sample_value("contactsync_operator_sync_failures_in_a_row", EU)

    assert in_a_row(after(finished("run-1", "FAILED", 1))) == 1
    assert in_a_row(after(finished("run-1", "FAILED", 1))) == 1, "seen again, not run again"
    assert in_a_row(after(finished("run-2", "Blocked", 2))) == 2
    assert in_a_row(after(finished("run-3", "Running"))) == 2, "a running sync changes nothing"
    registry = after(finished("run-3", "TIMED_OUT", 3))
    assert in_a_row(registry) == 3
    finished_at = (NOW + timedelta(minutes=3)).timestamp()
    assert registry.get_sample_value("contactsync_operator_last_sync_timestamp_seconds", EU) == (
        finished_at
    )
    registry = after(finished("run-4", "COMPLETED", 4))
    assert in_a_row(registry) == 0
    runs = {
        result: registry.get_sample_value(
            "contactsync_operator_syncs_total", EU | {"result": result}
        )
        for result in ("Succeeded", "Failed", "Blocked")
    }
    assert runs == {"Succeeded": 1, "Failed": 2, "Blocked": 1}


def test_a_contactsync_not_reconciled_for_a_while_drops_out(
    gauges: ContactSyncGauges, clock: Clock
) -> None:
    registry = record(gauges, reconciled(in_sync(resource(), SETTINGS, ready=2)))
    clock.now += 179
    assert registry.get_sample_value("contactsync_operator_ready", WHO) == 1
    clock.now += 2
    assert registry.get_sample_value("contactsync_operator_ready", WHO) is None
    assert registry.get_sample_value("contactsync_operator_workers_ready", EU) is None


def test_a_deleted_contactsync_is_forgotten_at_once(gauges: ContactSyncGauges) -> None:
    registry = record(gauges, reconciled(in_sync(resource(), SETTINGS, ready=2)))
    gauges.forget("contacts", "global-phonebook")
    assert registry.get_sample_value("contactsync_operator_ready", WHO) is None


def test_labels_name_resources_only(gauges: ContactSyncGauges) -> None:
    run = finished("run-1", "FAILED", 1)
    registry = record(gauges, reconciled(in_sync(resource(), SETTINGS, ready=2, last_run=run)))
    labels = {name for family in registry.collect() for s in family.samples for name in s.labels}
    assert labels == {"namespace", "name", "region", "reason", "result"}


# The handler: the real Kopf function, with a reconciler that answers or raises.


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("TEMPORAL_PLAINTEXT", "true")  # settings are read at import
    return importlib.import_module("contactsync_operator.handlers")


@dataclass
class FakeReconciler:
    result: Result | None = None

    async def reconcile(
        self, resource: ContactSync, conditions: list[Any], listing_age: float = 0.0
    ) -> Result:
        if self.result is None:
            raise RuntimeError("the API server went away")
        return self.result


async def call_reconcile(handlers: ModuleType, reconciler: FakeReconciler) -> None:
    document = example("multi-region")
    document["metadata"].update(uid="uid-1", generation=3)
    body = kopf.Body(cast(kopf.RawBody, document))
    memo = kopf.Memo(reconciler=reconciler)
    await handlers.reconcile(body=body, status=body.status, patch=kopf.Patch(), memo=memo)


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_reconcile_that_raises_is_counted_as_an_error(handlers: ModuleType) -> None:
    before = sample("contactsync_operator_reconciles_total", {"outcome": "error"})
    with pytest.raises(RuntimeError):
        await call_reconcile(handlers, FakeReconciler())
    assert sample("contactsync_operator_reconciles_total", {"outcome": "error"}) == before + 1


async def test_the_handler_records_the_status_it_writes(handlers: ModuleType) -> None:
    res = resource()
    observed = in_sync(res, SETTINGS, ready=1)
    the_plan = plan(res, observed, SETTINGS)
    outcome = Outcome(schedules_present=set(observed.schedules))
    status = build_status(res, the_plan, observed, outcome, [], NOW)
    result = Result(status, the_plan, outcome, [], {"eu-central-1": 0, "us-east-1": 2})
    try:
        await call_reconcile(handlers, FakeReconciler(result))
        assert sample("contactsync_operator_workers_ready", EU) == 1
        assert sample("contactsync_operator_schedules_missing", US) == 2
    finally:
        metrics.CONTACTSYNCS.forget("contacts", "global-phonebook")
