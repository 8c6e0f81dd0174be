"""Small value types the spec shares: names, durations, Secret references, quantities."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

# DNS-1123 labels: they become parts of object names, label values and task queues.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Go duration units only, so CEL's duration() can compare them (jitter < interval).
CLOCK_DURATION_PATTERN = r"^([0-9]+(h|m|s))+$"
# Retention periods are long; days are allowed. No sign: a period is never negative.
PERIOD_PATTERN = r"^([0-9]+(d|h|m|s))+$"
CRON_PATTERN = (
    r"^(@(yearly|annually|monthly|weekly|daily|hourly)"
    r"|([0-9A-Za-z*,/?#-]+[ \t]+){4}[0-9A-Za-z*,/?#-]+)$"
)
TIME_ZONE_PATTERN = r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"

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


class SecretRef(SpecModel):
    """A Secret in the ContactSync's namespace. Its content is mounted, never copied."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Name of the Secret."
    )


class SecretKeyRef(SecretRef):
    """One key of a Secret in the ContactSync's namespace."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=253)] = Field(
        description="Key within the Secret."
    )


IntOrString = Annotated[
    int | str,
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]
