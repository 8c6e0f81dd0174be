"""The benchmark's figures as one JSON document, and as a table for people."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bench.operator_scale import audit, progress
from bench.operator_scale.fleet import Fleet

if TYPE_CHECKING:
    from bench.operator_scale.__main__ import Stopwatch

SERVERS = ("kube-apiserver", "etcd", "temporal")


def _reconciles(metrics: Mapping[str, float]) -> tuple[float, float]:
    """Reconciles so far (every outcome) and the seconds they took in all."""
    count = sum(v for k, v in metrics.items() if k.startswith("contactsync_operator_reconciles_"))
    return count, metrics.get("contactsync_operator_reconcile_seconds_sum", 0.0)


def _outcomes(metrics: Mapping[str, float]) -> dict[str, int]:
    """Reconciles so far by outcome (ok, degraded, invalid, error)."""
    prefix = 'contactsync_operator_reconciles_total{outcome="'
    return {k[len(prefix) : -2]: int(v) for k, v in metrics.items() if k.startswith(prefix)}


def _requests(found: Sequence[audit.Request], start: float, end: float) -> dict[str, Any]:
    counted = audit.tally(found, start, end)
    return {
        "seconds": round(counted.seconds, 1),
        "total": counted.total,
        "per_minute": round(counted.per_minute, 1),
        "by_kind_per_minute": {
            kind: round(rate, 1) for kind, rate in counted.top(len(counted.by_kind))
        },
    }


def figures(
    fleet: Fleet,
    args: argparse.Namespace,
    watch: Stopwatch,
    requests: Sequence[audit.Request],
    timeline: list[dict[str, Any]],
    found: dict[str, Any],
    metrics: Mapping[str, Mapping[str, float]],
    log: Mapping[str, Any],
) -> dict[str, Any]:
    at = {moment: watch.at(moment).at for moment in watch.moments}
    expected_children = fleet.resources * fleet.regions
    idle_seconds = at["idle-end"] - at["idle-start"]
    settled_count, settled_time = _reconciles(metrics["settled"])
    end_count, end_time = _reconciles(metrics["idle_end"])
    idle_count, idle_time = end_count - settled_count, end_time - settled_time
    return {
        "fleet": {
            "resources": fleet.resources,
            "regions": fleet.regions,
            "per_namespace": fleet.per_namespace,
            "namespaces": len(fleet.namespaces),
            "worker_replicas": 1,
            "nodes": 0,
        },
        "operator_resync_seconds": args.resync_seconds,
        "definitions": {"reconciled": progress.__doc__},
        "poll_seconds": args.poll_seconds,
        "seconds": {
            "apply": round(at["applied"] - at["apply"], 1),
            "to_reconciled": round(at["reconciled"] - at["apply"], 1),
            "to_settled": round(at["settled"] - at["apply"], 1),
            "idle": round(idle_seconds, 1),
        },
        "found_when_reconciled": {
            "children": found["children"],
            "children_expected_per_kind": expected_children,
            "schedules": found["schedules"],
            "schedules_expected": expected_children * 2,
        },
        "operator": {
            "rss_mib_before_apply": round(watch.at("apply").rss_mib, 1),
            "rss_mib_reconciled": round(watch.at("reconciled").rss_mib, 1),
            "rss_mib_idle_start": round(watch.at("idle-start").rss_mib, 1),
            "rss_mib_idle_end": round(watch.at("idle-end").rss_mib, 1),
            "peak_rss_mib": round(watch.at("idle-end").peak_rss_mib, 1),
            "cpu_seconds_to_reconciled": round(watch.cpu("apply", "reconciled", "operator"), 1),
            "cpu_seconds_to_settled": round(watch.cpu("apply", "settled", "operator"), 1),
            "idle_cpu_percent_of_a_core": round(
                100 * watch.cpu("idle-start", "idle-end", "operator") / idle_seconds, 1
            ),
            "reconciles_to_settled_by_outcome": _outcomes(metrics["settled"]),
            "idle_reconciles": int(idle_count),
            "idle_reconcile_mean_seconds": round(idle_time / idle_count, 3) if idle_count else None,
            "log": dict(log),
        },
        "servers": {
            name: {
                "cpu_seconds_to_settled": round(watch.cpu("apply", "settled", name), 1),
                "idle_cpu_percent_of_a_core": round(
                    100 * watch.cpu("idle-start", "idle-end", name) / idle_seconds, 1
                ),
                "peak_rss_mib": round(watch.at("idle-end", name).peak_rss_mib, 1),
            }
            for name in SERVERS
        },
        "operator_requests": {
            "apply_to_reconciled": _requests(requests, at["apply"], at["reconciled"]),
            "reconciled_to_settled": _requests(requests, at["reconciled"], at["settled"]),
            "idle": _requests(requests, at["idle-start"], at["idle-end"]),
        },
        "idle": found["idle"],
        "timeline": timeline,
    }


def table(figures: Mapping[str, Any]) -> str:
    fleet, seconds, operator = figures["fleet"], figures["seconds"], figures["operator"]
    found, requests = figures["found_when_reconciled"], figures["operator_requests"]
    idle = requests["idle"]
    expected_children = len(found["children"]) * found["children_expected_per_kind"]
    rows = [
        ("ContactSyncs x regions", f"{fleet['resources']} x {fleet['regions']}"),
        ("kubectl apply of all", f"{seconds['apply']} s"),
        (
            "until all reconciled",
            f"{seconds['to_reconciled']} s (polled every {figures['poll_seconds']} s)",
        ),
        (
            "until all settled",
            f"{seconds['to_settled']} s (resync {figures['operator_resync_seconds']:.0f} s)",
        ),
        (
            "children / schedules",
            f"{sum(found['children'].values())} (expected {expected_children})"
            f" / {found['schedules']} (expected {found['schedules_expected']})",
        ),
        ("operator CPU to reconciled", f"{operator['cpu_seconds_to_reconciled']} s"),
        ("operator peak RSS", f"{operator['peak_rss_mib']} MiB"),
        (
            "operator RSS idle start / end",
            f"{operator['rss_mib_idle_start']} / {operator['rss_mib_idle_end']} MiB",
        ),
        (
            f"operator CPU idle ({seconds['idle']:.0f} s)",
            f"{operator['idle_cpu_percent_of_a_core']} % of a core, "
            f"{operator['idle_reconciles']} reconciles",
        ),
        (
            "operator API requests idle",
            f"{idle['per_minute']} /min ({idle['total']} in {idle['seconds']} s)",
        ),
        (
            "operator API requests to reconciled",
            f"{requests['apply_to_reconciled']['total']}",
        ),
    ]
    rows += [
        (f"{name} CPU idle", f"{server['idle_cpu_percent_of_a_core']} % of a core")
        for name, server in figures["servers"].items()
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    lines += ["", "idle requests per minute, commonest first:"]
    commonest = list(idle["by_kind_per_minute"].items())[:10]
    lines += [f"  {rate:8.1f}  {kind}" for kind, rate in commonest]
    return "\n".join(lines)
