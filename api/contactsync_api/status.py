"""The status the operator writes. Declared in full: the API server prunes undeclared fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, PlainSerializer, WithJsonSchema

from contactsync_api.errors import ErrorType
from contactsync_api.reasons import Reason
from contactsync_api.values import SpecModel

# Written as Python's isoformat (``+00:00``, where pydantic would write ``Z``): a transition
# time read back from the status is then written back as it was.
Timestamp = Annotated[
    datetime, PlainSerializer(datetime.isoformat, return_type=str, when_used="json")
]


class ConditionType(StrEnum):
    READY = "Ready"
    PROGRESSING = "Progressing"
    DEGRADED = "Degraded"
    # The abnormal-true pair GitOps tools read (kstatus: Flux, kpt; Argo CD's health check):
    # Reconciling while the operator is still getting there, Stalled when a person must act.
    RECONCILING = "Reconciling"
    STALLED = "Stalled"


# Typed here, open strings in the CRD: a condition another version of the operator wrote, or
# another controller added, must not make the whole status invalid.
OpenConditionType = Annotated[ConditionType, WithJsonSchema({"type": "string"})]
OpenReason = Annotated[Reason, WithJsonSchema({"type": "string"})]
OpenErrorType = Annotated[ErrorType, WithJsonSchema({"type": "string"})]


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(SpecModel):
    """A standard Kubernetes condition."""

    type: OpenConditionType = Field(
        description="Ready, Progressing, Degraded, Reconciling or Stalled."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: OpenReason = Field(description="CamelCase reason, for machines and searching.")
    message: str = Field(default="", description="What happened, for people.")
    last_transition_time: Timestamp = Field(description="When status last changed.")
    observed_generation: int | None = Field(
        default=None, description="The spec generation this condition describes."
    )


class WorkerCounts(SpecModel):
    desired: int = Field(default=0, description="Worker pods the Deployment asks for.")
    ready: int = Field(default=0, description="Worker pods ready.")


class SyncResult(StrEnum):
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    BLOCKED = "Blocked"
    RUNNING = "Running"


class LastSync(SpecModel):
    """Counts of the region's last sync run; never contact data."""

    result: SyncResult = Field(
        description="Succeeded, Failed, Blocked (mass-delete guard) or Running."
    )
    workflow_id: str | None = Field(default=None, description="Temporal workflow id of the run.")
    started_at: Timestamp | None = Field(default=None, description="When the run started.")
    finished_at: Timestamp | None = Field(default=None, description="When the run finished.")
    created: int = Field(default=0, description="Contacts created downstream.")
    updated: int = Field(default=0, description="Contacts updated downstream.")
    deleted: int = Field(default=0, description="Contacts deleted downstream.")
    unchanged: int = Field(default=0, description="Contacts already up to date.")
    skipped_no_consent: int = Field(
        default=0, description="Contacts not written for lack of consent."
    )
    quarantined: int = Field(
        default=0, description="Malformed records set aside, by source and id."
    )
    dropped_emails: int = Field(
        default=0, description="Emails dropped for not being email addresses (values.invalid)."
    )
    dropped_phones: int = Field(
        default=0, description="Phones dropped for not being phone numbers (values.invalid)."
    )
    quarantined_invalid_values: int = Field(
        default=0,
        description="Of the quarantined: records set aside for an invalid email or phone.",
    )
    quarantined_no_identity: int = Field(
        default=0,
        description="Of the quarantined: records with no identity value and no name.",
    )
    failure_type: OpenErrorType | None = Field(
        default=None,
        description=(
            "What made the run fail, if it did, as the worker named it: "
            "SourceAuthenticationRefused, SourceNotFound, SourceUnreachable, "
            "ConfigurationError, MassDeleteBlocked, ... (the error types in docs/worker.md). "
            "Also the reason of the Warning Event that reports the run."
        ),
    )
    message: str | None = Field(default=None, description="Why the run failed, if it did.")
    audit_checkpoint: str | None = Field(
        default=None,
        description=(
            "The region's audit chain head at the end of the run, signed with a key the state "
            "store does not hold: check it with `contactsync audit verify --checkpoint`."
        ),
    )


class RegionStatus(SpecModel):
    name: str = Field(description="Region name.")
    served_here: bool = Field(
        default=True,
        description="False when another cluster's operator serves the region.",
    )
    task_queue: str | None = Field(default=None, description="Temporal task queue of the region.")
    schedule_id: str | None = Field(default=None, description="Temporal schedule of the sync.")
    retention_schedule_id: str | None = Field(
        default=None, description="Temporal schedule of the retention run."
    )
    workers: WorkerCounts = Field(default=WorkerCounts(), description="Worker pods.")
    next_sync_time: Timestamp | None = Field(default=None, description="When the next sync is due.")
    last_sync: LastSync | None = Field(default=None, description="The last sync run.")


class ContactSyncStatus(SpecModel):
    """Observed state, written by the operator once per reconcile."""

    observed_generation: int = Field(
        default=0,
        description=(
            "The spec generation the operator last acted on; 0 until it has, so status tools "
            "(kstatus: Flux, kpt) read a resource nobody reconciled yet as in progress."
        ),
    )
    conditions: Annotated[list[Condition], Field(max_length=8)] = Field(
        default=[],
        description=(
            "Ready, Progressing, Degraded, and for GitOps tools Reconciling (work under way) "
            "and Stalled (a person must act)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    regions: list[RegionStatus] = Field(
        default=[],
        description="Per-region state.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    schedule: str | None = Field(
        default=None, description="The schedule, in words, for kubectl get."
    )
    regions_ready: str | None = Field(
        default=None, description="Regions with ready workers and schedules, e.g. 2/3."
    )
    last_sync_time: Timestamp | None = Field(
        default=None, description="When the latest sync of any region finished."
    )


def serialized(model: SpecModel) -> dict[str, Any]:
    """A status, or part of one, as the operator writes it: camelCase, only the fields it set.
    A default it did not set (the counts of a run that reported none, the workers of a region
    served elsewhere) is the CRD's to fill in, and None is left out, not written as null."""
    return model.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
