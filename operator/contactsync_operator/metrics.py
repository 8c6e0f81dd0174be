"""Prometheus metrics of the operator. Labels carry no personal data: resource names only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

RECONCILES = Counter(
    "contactsync_operator_reconciles_total",
    "Reconciles of ContactSync resources, by outcome.",
    ["outcome"],  # ok, degraded (a problem in the status), invalid (spec), error (raised)
)
ERRORS = Counter(
    "contactsync_operator_errors_total",
    "Problems a reconcile surfaced as a Degraded condition, by reason.",
    ["reason"],
)
LATENCY = Histogram(
    "contactsync_operator_reconcile_seconds",
    "Time one reconcile took, from observing to the status patch.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SCHEDULE_CHANGES = Counter(
    "contactsync_operator_schedule_changes_total",
    "Temporal schedule creates, updates and deletes.",
    ["change"],
)
APPLIES = Counter(
    "contactsync_operator_applies_total",
    "Kubernetes objects applied or deleted.",
    ["action", "kind"],
)

PURGES_ABANDONED = Counter(
    "contactsync_operator_purges_abandoned_total",
    "Purges given up because the namespace was deleted with the workers that would run them.",
)

FINISHED = frozenset({"Succeeded", "Failed", "Blocked"})
FAILED = frozenset({"Failed", "Blocked"})


@dataclass
class _Region:
    desired: int
    ready: int
    schedules_missing: int | None
    finished_at: float | None = None
    failures_in_a_row: int = 0
    runs: dict[str, int] = field(default_factory=dict)
    last_counted: str | None = None


@dataclass
class _Resource:
    ready: bool
    degraded: tuple[bool, str]
    regions: dict[str, _Region]
    seen_at: float


class ContactSyncGauges(Collector):
    """Each ContactSync as its last status says: Ready, Degraded, workers, schedules, and the
    sync runs the operator saw finish, labelled by namespace, name and region.

    A resource not reconciled for ``expire_after`` seconds drops out: it was deleted, or this
    replica stopped leading (a standby replica must not report what it saw long ago). Runs are
    counted when the operator first sees them finished, so one that started and finished
    between two reconciles is missed, and the count of failures in a row restarts with the
    operator (from 1 when the latest run failed)."""

    def __init__(self, expire_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.expire_after = expire_after
        self._clock = clock
        self._lock = threading.Lock()
        self._resources: dict[tuple[str, str], _Resource] = {}

    def record(
        self,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        schedules_missing: Mapping[str, int],
    ) -> None:
        """Take the status the operator just wrote; ``schedules_missing`` has the regions whose
        schedules it could check (none while Temporal is unreachable)."""
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        ready = conditions.get("Ready", {}).get("status") == "True"
        degraded = conditions.get("Degraded", {})
        with self._lock:
            before = self._resources.get((namespace, name))
            regions = {}
            for region in status.get("regions", []):
                if not region.get("servedHere"):
                    continue
                workers = region.get("workers", {})
                now = _Region(
                    workers.get("desired", 0),
                    workers.get("ready", 0),
                    schedules_missing.get(region["name"]),
                )
                previous = before.regions.get(region["name"]) if before else None
                _count_run(now, previous, region.get("lastSync") or {})
                regions[region["name"]] = now
            self._resources[(namespace, name)] = _Resource(
                ready,
                (degraded.get("status") == "True", degraded.get("reason", "")),
                regions,
                self._clock(),
            )

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._resources.pop((namespace, name), None)

    def describe(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from self._families({})

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        with self._lock:
            oldest = self._clock() - self.expire_after
            for key in [k for k, r in self._resources.items() if r.seen_at < oldest]:
                del self._resources[key]
            resources = dict(self._resources)
        yield from self._families(resources)

    def _families(
        self, resources: Mapping[tuple[str, str], _Resource]
    ) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        ids, per_region = ["namespace", "name"], ["namespace", "name", "region"]
        ready = GaugeMetricFamily(
            "contactsync_operator_ready",
            "1 when the ContactSync's Ready condition is True.",
            None,
            ids,
        )
        degraded = GaugeMetricFamily(
            "contactsync_operator_degraded",
            "1 when the ContactSync's Degraded condition is True (a problem a reconcile hit), "
            "with its reason.",
            labels=[*ids, "reason"],
        )
        desired = GaugeMetricFamily(
            "contactsync_operator_workers_desired",
            "Worker replicas a served region asks for.",
            labels=per_region,
        )
        workers_ready = GaugeMetricFamily(
            "contactsync_operator_workers_ready",
            "Ready worker pods of a served region.",
            labels=per_region,
        )
        missing = GaugeMetricFamily(
            "contactsync_operator_schedules_missing",
            "Temporal schedules a served region should have and has not, after the reconcile "
            "(absent while Temporal cannot be read).",
            labels=per_region,
        )
        in_a_row = GaugeMetricFamily(
            "contactsync_operator_sync_failures_in_a_row",
            "Sync runs of a region that failed (or the mass-delete guard blocked) since the "
            "last one that succeeded, as far as this operator saw.",
            labels=per_region,
        )
        finished = GaugeMetricFamily(
            "contactsync_operator_last_sync_timestamp_seconds",
            "When the region's latest finished sync run finished (Unix time).",
            labels=per_region,
        )
        runs = CounterMetricFamily(
            "contactsync_operator_syncs",
            "Sync runs the operator saw finish, by result: Succeeded, Failed, Blocked.",
            labels=[*per_region, "result"],
        )
        for (namespace, name), resource in sorted(resources.items()):
            ready.add_metric([namespace, name], float(resource.ready))
            is_degraded, reason = resource.degraded
            degraded.add_metric([namespace, name, reason], float(is_degraded))
            for region_name, region in sorted(resource.regions.items()):
                labels = [namespace, name, region_name]
                desired.add_metric(labels, region.desired)
                workers_ready.add_metric(labels, region.ready)
                if region.schedules_missing is not None:
                    missing.add_metric(labels, region.schedules_missing)
                in_a_row.add_metric(labels, region.failures_in_a_row)
                if region.finished_at is not None:
                    finished.add_metric(labels, region.finished_at)
                for result, count in sorted(region.runs.items()):
                    runs.add_metric([*labels, result], count)
        yield from (ready, degraded, desired, workers_ready, missing, in_a_row, finished, runs)


def _count_run(now: _Region, previous: _Region | None, last_sync: Mapping[str, Any]) -> None:
    """Carry a region's run history over and count its latest run once it has finished."""
    if previous is not None:
        now.runs = dict(previous.runs)
        now.failures_in_a_row = previous.failures_in_a_row
        now.last_counted = previous.last_counted
        now.finished_at = previous.finished_at
    result, workflow = last_sync.get("result"), last_sync.get("workflowId")
    if result not in FINISHED or workflow == now.last_counted:
        return  # running, or counted already
    now.last_counted = workflow
    now.runs[result] = now.runs.get(result, 0) + 1
    now.failures_in_a_row = now.failures_in_a_row + 1 if result in FAILED else 0
    if last_sync.get("finishedAt"):
        now.finished_at = datetime.fromisoformat(last_sync["finishedAt"]).timestamp()


# The operator re-reconciles every ContactSync each resync period: three missed ones, and
# what this replica last saw is no longer true.
CONTACTSYNCS = ContactSyncGauges(expire_after=180.0)
REGISTRY.register(CONTACTSYNCS)


def serve(port: int, resync_seconds: float) -> None:
    CONTACTSYNCS.expire_after = max(180.0, 3 * resync_seconds)
    start_http_server(port)
