"""Small value types the spec shares: names, durations, Secret references, quantities."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from contactsync_api.rules import (
    Rule,
    RuledModel,
    cel_matches,
    cel_property,
    matches,
    pattern_rule,
)

# DNS-1123 labels: they become parts of object names, label values and task queues.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Go duration units only, so CEL's duration() can compare them (jitter < interval).
CLOCK_DURATION_PATTERN = r"^([0-9]+(h|m|s))+$"
# Retention periods are long; days are allowed. No sign: a period is never negative.
PERIOD_PATTERN = r"^([0-9]+(d|h|m|s))+$"
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
# What Kubernetes calls a DNS subdomain (RFC 1123): the names of Secrets, among others.
SUBDOMAIN_PATTERN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Temporal takes nearly any string, but a namespace also names URLs of its web UI, metric
# labels and CLI arguments: letters, digits, '.', '_' and '-', no space, slash or colon.
TEMPORAL_NAMESPACE_PATTERN = "^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$"
# A Kubernetes resource quantity (100m, 0.5, 2, 256Mi, 1e3), never negative.
QUANTITY_PATTERN = "^[+]?([0-9]+([.][0-9]*)?|[.][0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][-+]?[0-9]+)?$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, min_length=1, max_length=40)]
ClockDuration = Annotated[str, StringConstraints(pattern=CLOCK_DURATION_PATTERN, max_length=32)]
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN, max_length=32)]
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class SpecModel(BaseModel):
    """Base for every object of the spec: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


class SecretRef(RuledModel, SpecModel):
    """A Secret in the ContactSync's namespace. Its content is mounted, never copied."""

    rules = (
        pattern_rule(
            "name",
            "name",
            SUBDOMAIN_PATTERN,
            "name must be a Secret name: lower-case letters, digits, '-' and '.', starting "
            "and ending with a letter or digit",
        ),
    )

    name: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Name of the Secret (lower-case letters, digits, '-' and '.')."
    )


class SecretKeyRef(SecretRef):
    """One key of a Secret in the ContactSync's namespace."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Key within the Secret."
    )


# Written as a number or a string; the API server keeps either (int-or-string).
Quantity = Annotated[
    int | Annotated[str, StringConstraints(max_length=64)],
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]


def is_quantity(value: int | str) -> bool:
    if isinstance(value, int):
        return value >= 0
    return matches(value, QUANTITY_PATTERN)


def quantities_rule(field: str, alias: str) -> Rule:
    """Every value of the map ``field`` (``alias`` on the wire) is a resource quantity."""
    values = f"self.{cel_property(alias)}"
    value = f"{values}[k]"
    string_value = cel_matches(f"string({value})", QUANTITY_PATTERN)

    def holds(model: object) -> bool:
        quantities: Mapping[str, int | str] | None = getattr(model, field)
        return quantities is None or all(is_quantity(q) for q in quantities.values())

    return Rule(
        # An int-or-string value is dynamic in CEL: its type is asked at run time.
        cel=(
            f"!has({values}) || {values}.all(k, "
            f"type({value}) == int ? {value} >= 0 : {string_value})"
        ),
        message=(
            f"{alias}: every value must be a Kubernetes quantity, at least 0, "
            "e.g. 100m, 0.5, 2, 256Mi or 1Gi"
        ),
        holds=holds,
        field_path=f".{alias}",
    )
