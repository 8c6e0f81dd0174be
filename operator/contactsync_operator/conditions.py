"""Status of a ContactSync from the plan, what was observed and what executing it did (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contactsync_api.errors import ErrorType
from contactsync_api.manifest import ContactSync
from contactsync_operator import naming
from contactsync_operator.observed import Observed, ObservedRun
from contactsync_operator.planner import Plan, RegionPlan
from contactsync_operator.schedules import describe_timing

READY, PROGRESSING, DEGRADED = "Ready", "Progressing", "Degraded"
# The abnormal-true pair GitOps tools read (kstatus: Flux, kpt; Argo CD's health check):
# Reconciling while the operator is still getting there, Stalled when a person must act.
RECONCILING, STALLED = "Reconciling", "Stalled"
# Problems the operator retries by itself every reconcile; every other one needs a person
# (a Secret to create or label, a spec to fix, an object someone else owns).
RETRIED_BY_ITSELF = frozenset(
    {
        "TemporalUnavailable",
        "ApplyFailed",
        "DeleteFailed",
        "ScheduleFailed",
        "CleanupBlocked",
        "EgressPolicyUnreadable",
    }
)
_RUN_RESULTS = {
    "COMPLETED": "Succeeded",
    "RUNNING": "Running",
    "FAILED": "Failed",
    "TIMED_OUT": "Failed",
    "TERMINATED": "Failed",
    "CANCELED": "Failed",
}


@dataclass(frozen=True)
class Problem:
    """Something a user must act on, with a searchable reason."""

    reason: str
    message: str


@dataclass
class Outcome:
    """What executing a plan did."""

    problems: list[Problem] = field(default_factory=list)
    schedules_present: set[str] = field(default_factory=set)


def _condition(
    kind: str,
    status: bool,
    reason: str,
    message: str,
    generation: int,
    previous: Sequence[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    value = "True" if status else "False"
    before = next((c for c in previous if c.get("type") == kind), {})
    # The transition time moves only when the status does, as Kubernetes conditions expect.
    unchanged = before.get("status") == value and before.get("lastTransitionTime")
    return {
        "type": kind,
        "status": value,
        "reason": reason,
        "message": message,
        "lastTransitionTime": before["lastTransitionTime"] if unchanged else now.isoformat(),
        "observedGeneration": generation,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _last_sync(run: ObservedRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    last: dict[str, Any] = {
        "result": _RUN_RESULTS.get(run.status, "Failed"),
        "workflowId": run.workflow_id,
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.closed_at),
        "message": run.failure,
    }
    if run.failure_type == ErrorType.MASS_DELETE_BLOCKED:
        last["result"] = "Blocked"
    if run.summary is not None:
        summary = run.summary
        last |= {
            "created": summary.created,
            "updated": summary.updated,
            "deleted": summary.deleted,
            "unchanged": summary.unchanged,
            "skippedNoConsent": summary.skipped_no_consent,
            "quarantined": summary.quarantined,
            "auditCheckpoint": summary.audit_checkpoint or None,
        }
    return {k: v for k, v in last.items() if v is not None}


def _region_status(resource: ContactSync, region: RegionPlan, observed: Observed) -> dict[str, Any]:
    status: dict[str, Any] = {"name": region.name, "servedHere": region.served_here}
    if not region.served_here:
        return status
    spec_region = next(r for r in resource.spec.regions if r.name == region.name)
    counts = observed.workers.get(region.name)
    sync_id = naming.sync_schedule_id(resource.namespace, resource.name, region.name)
    schedule = observed.schedules.get(sync_id)
    status |= {
        "taskQueue": naming.task_queue(resource.namespace, resource.name, region.name),
        "scheduleId": sync_id,
        "retentionScheduleId": naming.retention_schedule_id(
            resource.namespace, resource.name, region.name
        ),
        "workers": {
            "desired": spec_region.workers.replicas,
            "ready": counts.ready if counts else 0,
        },
    }
    if schedule is not None and schedule.next_run is not None:
        status["nextSyncTime"] = schedule.next_run.isoformat()
    last = _last_sync(schedule.last_run if schedule else None)
    if last is not None:
        status["lastSync"] = last
    return status


def _region_ready(
    resource: ContactSync, region: RegionPlan, observed: Observed, outcome: Outcome
) -> bool:
    if region.blocked_reason or not set(region.schedule_ids) <= outcome.schedules_present:
        return False
    desired = next(r for r in resource.spec.regions if r.name == region.name).workers.replicas
    counts = observed.workers.get(region.name)
    return desired == 0 or (counts is not None and counts.ready > 0)


def missing_schedules(plan: Plan, observed: Observed, outcome: Outcome) -> dict[str, int]:
    """How many of its schedules each served region lacks after the reconcile. Empty while
    Temporal cannot be read: then nobody knows, and TemporalUnavailable says so."""
    if observed.temporal_error:
        return {}
    return {
        r.name: len(set(r.schedule_ids) - outcome.schedules_present)
        for r in plan.regions
        if r.served_here
    }


def build_status(
    resource: ContactSync,
    plan: Plan,
    observed: Observed,
    outcome: Outcome,
    previous_conditions: Sequence[dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    served = [r for r in plan.regions if r.served_here]
    ready_regions = [r for r in served if _region_ready(resource, r, observed, outcome)]
    problems = list(outcome.problems)
    problems += [
        Problem(r.blocked_reason, r.blocked_message or "") for r in served if r.blocked_reason
    ]
    if observed.temporal_error:
        problems.append(Problem("TemporalUnavailable", observed.temporal_error))
    generation = resource.generation
    all_ready = not problems and len(ready_regions) == len(served)
    waiting = [r.name for r in served if r not in ready_regions]
    if all_ready:
        ready = (True, "Reconciled", f"{len(served)} region(s) served here are running")
    elif problems:
        ready = (False, problems[0].reason, problems[0].message)
    else:
        ready = (False, "WorkersNotReady", f"waiting for workers in: {', '.join(waiting)}")
    progressing = (
        (True, "Applying", "applying changes")
        if plan.changes_anything
        else (
            not all_ready and not problems,
            "WaitingForWorkers" if waiting and not problems else "Idle",
            "",
        )
    )
    degraded = (
        (True, problems[0].reason, "; ".join(f"{p.reason}: {p.message}" for p in problems))
        if problems
        else (False, "AsExpected", "")
    )
    for_a_person = [p for p in problems if p.reason not in RETRIED_BY_ITSELF]
    stalled = (
        (True, for_a_person[0].reason, "; ".join(f"{p.reason}: {p.message}" for p in for_a_person))
        if for_a_person
        else (False, "AsExpected", "")
    )
    reconciling = (
        (False, "Stalled" if for_a_person else "Reconciled", "")
        if for_a_person or all_ready
        else (
            (True, problems[0].reason, problems[0].message)
            if problems
            else (True, "Applying", "applying changes")
            if plan.changes_anything
            else (True, "WaitingForWorkers", f"waiting for workers in: {', '.join(waiting)}")
        )
    )
    conditions = [
        _condition(kind, *values, generation, previous_conditions, now)
        for kind, values in (
            (READY, ready),
            (PROGRESSING, progressing),
            (DEGRADED, degraded),
            (RECONCILING, reconciling),
            (STALLED, stalled),
        )
    ]
    regions = [_region_status(resource, r, observed) for r in plan.regions]
    finished = [
        s.last_run.closed_at
        for s in observed.schedules.values()
        if s.last_run and s.last_run.closed_at
    ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": conditions,
        "regions": regions,
        "schedule": describe_timing(resource.spec.schedule),
        "regionsReady": f"{len(ready_regions)}/{len(served)}",
    }
    if finished:
        status["lastSyncTime"] = max(finished).isoformat()
    return status
