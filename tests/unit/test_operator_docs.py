"""docs/operator.md names every metric the operator exports: an alert or a dashboard is written
from the docs, and a metric missing there is one nobody uses."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

import contactsync_operator.metrics  # noqa: F401 - registers the operator's metrics

DOCS = Path(__file__).parents[2] / "docs" / "operator.md"


def test_every_operator_metric_is_documented() -> None:
    text = DOCS.read_text()
    names = {
        metric.name.removesuffix("_total")
        for metric in REGISTRY.collect()
        if metric.name.startswith("contactsync_operator_")
    }
    assert names, "the operator's metrics are registered"
    missing = sorted(name for name in names if f"`{name}" not in text)
    assert not missing, f"docs/operator.md does not name {missing}"
