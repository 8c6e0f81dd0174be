"""The metric names a PromQL expression reads, and the names the code exports.

Alerts and dashboard panels must read only metrics that exist: a renamed metric would leave an
alert that never fires and a panel that shows nothing, and nobody would notice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from types import ModuleType

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from contactsync_operator import metrics as operator_metrics
from contactsync_worker import health as worker_metrics

# Series Prometheus makes itself for every target; nothing in the code defines them.
PROMETHEUS_OWN = frozenset({"up"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# A name not part of a number or a Grafana $variable, and not called like a function.
_NAME = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "unknown": ("",),
    "info": ("_info",),
    "stateset": ("",),
}


def metric_names(expression: str) -> set[str]:
    """The metric names ``expression`` selects (not labels, functions or keywords)."""
    text = _STRING.sub("", expression)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    return {name for name in _NAME.findall(text) if name not in _KEYWORDS}


def _families(module: ModuleType) -> Iterable[Metric]:
    """The metric families of the collectors (metrics, custom collectors) ``module`` defines."""
    for value in vars(module).values():
        describe = getattr(value, "describe", None)
        if callable(describe) and not isinstance(value, type | CollectorRegistry):
            yield from describe()


def exported_names(*modules: ModuleType) -> set[str]:
    """Every series name the collectors defined in ``modules`` expose, suffixes included."""
    names = set()
    for module in modules or (operator_metrics, worker_metrics):
        for family in _families(module):
            names |= {family.name + suffix for suffix in _SUFFIXES[family.type]}
    return names


def unknown_names(expressions: Iterable[str]) -> dict[str, set[str]]:
    """Each expression that reads a metric the code does not export, with those names."""
    known = exported_names() | PROMETHEUS_OWN
    found = {e: metric_names(e) - known for e in expressions}
    return {e: names for e, names in found.items() if names}
