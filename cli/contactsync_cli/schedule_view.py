"""A Temporal schedule the operator builds, as a YAML document for people to read.

The description is read off the ``temporalio`` Schedule object the operator's own builder made
(contactsync_operator.schedules), not recomputed from the spec, so it shows what the operator
sends. It is not a Kubernetes object: its apiVersion names no API group the cluster serves, so
``kubectl apply`` refuses it rather than store it.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import ScheduleActionStartWorkflow

from contactsync_operator.schedules import DesiredSchedule

API_VERSION = "contactsync.dev/render"
KIND = "TemporalSchedule"
# Request fields that never appear: scheduled runs carry no authorization, and a signature
# would be nobody's business in a review anyway.
_HIDDEN_INPUT_FIELDS = frozenset({"authorization"})


def duration(value: timedelta) -> str:
    """``1d``, ``15m``, ``1h30m``: the spec's own way of writing durations."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def input_summary(argument: object) -> dict[str, Any]:
    """The workflow's input by field, without secrets and without empty fields."""
    if not is_dataclass(argument) or isinstance(argument, type):
        return {"type": type(argument).__name__}
    summary: dict[str, Any] = {"type": type(argument).__name__}
    for field in fields(argument):
        value = getattr(argument, field.name)
        if value is None or field.name in _HIDDEN_INPUT_FIELDS:
            continue
        summary[_camel(field.name)] = input_summary(value) if is_dataclass(value) else value
    return summary


def describe(
    desired: DesiredSchedule,
    contact_sync: str,
    region: str,
    temporal_address: str,
    temporal_namespace: str,
) -> dict[str, Any]:
    schedule = desired.schedule
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)  # the only action the operator makes
    spec: dict[str, Any] = {}
    if schedule.spec.cron_expressions:
        spec["cron"] = list(schedule.spec.cron_expressions)
    if schedule.spec.intervals:
        spec["intervals"] = [
            {"every": duration(i.every), **({"offset": duration(i.offset)} if i.offset else {})}
            for i in schedule.spec.intervals
        ]
    if schedule.spec.jitter:
        spec["jitter"] = duration(schedule.spec.jitter)
    if schedule.spec.time_zone_name:
        spec["timeZone"] = schedule.spec.time_zone_name
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "id": desired.schedule_id,
        "contactSync": contact_sync,
        "region": region,
        "temporal": {"address": temporal_address, "namespace": temporal_namespace},
        "spec": spec,
        "policy": {"overlap": schedule.policy.overlap.name},
        "state": {"paused": schedule.state.paused, "note": schedule.state.note},
        "action": {
            "startWorkflow": {
                "workflowType": action.workflow,
                "taskQueue": action.task_queue,
                "workflowId": action.id,
                "input": [input_summary(argument) for argument in action.args],
                "memo": dict(action.memo or {}),
            }
        },
    }
