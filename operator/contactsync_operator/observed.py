"""What the operator saw before it plans: Kubernetes children and Temporal schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contactsync_api.egress_policy import EgressPolicy
from contactsync_api.errors import ErrorType
from contactsync_api.reasons import Reason
from contactsync_api.workflows import SyncSummary


@dataclass(frozen=True)
class ChildRef:
    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class ObservedChild:
    ref: ChildRef
    region: str
    applied_hash: str | None


@dataclass(frozen=True)
class ObservedWorkers:
    """A region's worker Deployment as observed, with what it was made with: once a region
    leaves the spec, its keys Secret and Temporal namespace are known only from here."""

    desired: int
    ready: int
    deployment_uid: str = ""
    keys_secret: str | None = None
    temporal_namespace: str | None = None


@dataclass(frozen=True)
class ObservedRun:
    """The latest run a schedule started, as Temporal reports it."""

    workflow_id: str
    started_at: datetime | None
    closed_at: datetime | None
    status: str  # RUNNING, COMPLETED, FAILED, ...
    summary: SyncSummary | None = None
    failure: str | None = None  # the worker's own message, not Temporal's wrapper
    failure_type: ErrorType | None = None  # the type the worker gave it


@dataclass(frozen=True)
class ObservedSchedule:
    schedule_id: str
    fingerprint: str | None  # as stored by the operator in the action memo
    applied_paused: bool | None  # the spec's paused value when the operator last wrote it
    paused: bool  # the schedule's state now, possibly changed by a person
    next_run: datetime | None = None
    last_run: ObservedRun | None = None


@dataclass(frozen=True)
class WorkerKeys:
    """What of a region's keys Secret its workers get: every entry but the request key (by
    name, as the volume's items), and the public half of that key, for their config."""

    items: tuple[str, ...]
    requests_public_key: str | None


@dataclass(frozen=True)
class RegionAccess:
    """Why a region cannot run now, if it cannot: a missing Secret, no keys configured."""

    region: str
    problem: str | None = None
    reason: Reason | None = None


@dataclass
class Observed:
    children: dict[ChildRef, ObservedChild] = field(default_factory=dict)
    workers: dict[str, ObservedWorkers] = field(default_factory=dict)
    schedules: dict[str, ObservedSchedule] = field(default_factory=dict)
    # Schedule ids under this resource's prefix, including regions it no longer declares.
    schedule_ids: set[str] = field(default_factory=set)
    access: dict[str, RegionAccess] = field(default_factory=dict)
    # Ports the region's PostgreSQL connection strings name (store and destinations).
    database_ports: dict[str, tuple[int, ...]] = field(default_factory=dict)
    worker_keys: dict[str, WorkerKeys] = field(default_factory=dict)
    temporal_error: str | None = None
    # The cluster's ContactSyncEgressPolicies and the labels of the resource's namespace. None:
    # not observed (local mode, tests of other things), and workers are not restricted.
    egress_policies: tuple[EgressPolicy, ...] | None = None
    namespace_labels: dict[str, str] = field(default_factory=dict)
