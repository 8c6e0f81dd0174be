"""The Grafana dashboard reads only metrics the code exports, and shows what operators ask for."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.monitoring.promql import exported_names, metric_names, unknown_names

ROOT = Path(__file__).parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "contactsync-dashboard.json"
CHART_COPY = ROOT / "helm" / "contactsync" / "files" / "contactsync-dashboard.json"
LABEL_VALUES = re.compile(r"^label_values\((?P<series>.+),\s*\w+\)$")


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)  # a collapsed row holds its panels


def panel_expressions() -> list[str]:
    return [t["expr"] for p in panels(dashboard()) for t in p.get("targets", [])]


def variable_expressions() -> list[str]:
    found = []
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match, f"${variable['name']}: only label_values(series, label) is checked"
        found.append(match["series"])
    return found


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        (
            'max by (namespace, name) (contactsync_operator_ready{name=~"$name"}) >= 3',
            {"contactsync_operator_ready"},
        ),
        (
            "histogram_quantile(0.95, sum by (le) "
            "(rate(contactsync_worker_page_seconds_bucket[$__rate_interval])))",
            {"contactsync_worker_page_seconds_bucket"},
        ),
        ('max by (job) (up{job="a"}) == 0 or absent(up{job="a"})', {"up"}),
        ("time() - a offset 5m", {"a"}),
        ("a * on (x) group_left (y) b unless ignoring (z) c", {"a", "b", "c"}),
        ("1e3 + sum without (le) (c) > bool 0.5", {"c"}),
    ],
)
def test_metric_names_are_read_out_of_promql(expression: str, names: set[str]) -> None:
    assert metric_names(expression) == names


def test_a_metric_the_code_does_not_export_is_caught() -> None:
    assert unknown_names(["sum(rate(contactsync_worker_contact_total[5m]))"]) == {
        "sum(rate(contactsync_worker_contact_total[5m]))": {"contactsync_worker_contact_total"}
    }


def test_every_query_reads_only_metrics_the_code_exports() -> None:
    expressions = panel_expressions() + variable_expressions()
    assert expressions
    assert unknown_names(expressions) == {}


def test_the_dashboard_shows_syncs_contacts_guard_sources_latency_reconciles_and_workers() -> None:
    read = set().union(*(metric_names(e) for e in panel_expressions()))
    assert (
        {
            "contactsync_operator_syncs_total",
            "contactsync_worker_contacts_total",
            "contactsync_worker_mass_deletes_blocked_total",
            "contactsync_worker_source_errors_total",
            "contactsync_worker_page_seconds_bucket",
            "contactsync_operator_reconciles_total",
            "contactsync_operator_reconcile_seconds_bucket",
            "contactsync_operator_workers_ready",
            "contactsync_operator_workers_desired",
        }
        <= read
        <= exported_names() | {"up"}
    )


def test_every_panel_queries_the_chosen_data_source() -> None:
    ids = []
    for panel in panels(dashboard()):
        ids.append(panel["id"])
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for source in [panel["datasource"], *(t["datasource"] for t in panel["targets"])]:
            assert source == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


def test_the_chart_ships_the_same_dashboard() -> None:
    assert CHART_COPY.read_bytes() == DASHBOARD.read_bytes(), (
        "helm/contactsync/files/contactsync-dashboard.json differs from "
        "deploy/grafana/contactsync-dashboard.json: copy it"
    )
