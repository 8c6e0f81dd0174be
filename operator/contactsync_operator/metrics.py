"""Prometheus metrics of the operator. Labels carry no personal data: resource names only."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, start_http_server

RECONCILES = Counter(
    "contactsync_operator_reconciles_total",
    "Reconciles of ContactSync resources, by outcome.",
    ["outcome"],
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


def serve(port: int) -> None:
    start_http_server(port)
