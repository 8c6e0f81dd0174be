"""One reconcile of one ContactSync: observe, plan, execute, and compute the status.

The handlers call this; it owns the order of I/O but no decisions, which live
in the planner and in conditions.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from temporalio.client import Client

from contactsync_api.manifest import ContactSync
from contactsync_api.reasons import Reason
from contactsync_api.spec import DeletionPolicy, RegionSpec
from contactsync_api.status import ContactSyncStatus
from contactsync_api.workflows import PURGE_WORKFLOW, RegionRunRequest
from contactsync_operator import naming, overrides
from contactsync_operator import temporal as temporal_io
from contactsync_operator.conditions import Outcome, Problem, build_status, missing_schedules
from contactsync_operator.kube import ChildOwnedElsewhere, KubeError, KubeGateway
from contactsync_operator.observed import Observed, RegionAccess
from contactsync_operator.planner import (
    CreateSchedule,
    DeleteSchedule,
    Plan,
    PurgeRetiredRegion,
    UpdateSchedule,
    plan,
    retired_regions,
)
from contactsync_operator.postgres_dsn import dsn_ports
from contactsync_operator.region_keys import RegionKeys, keys_secret_of, parse_keys_secret
from contactsync_operator.regionconfig import port_secret_refs
from contactsync_operator.schedule_index import ScheduleIndex
from contactsync_operator.schedules import desired_schedules
from contactsync_operator.secret_access import check_secrets
from contactsync_operator.secret_reads import SecretReads
from contactsync_operator.settings import OperatorSettings
from contactsync_worker.keyring import Keyring

# A reconcile waits this long for a dropped region's purge, then leaves it to the next one.
RETIRED_PURGE_WAIT_SECONDS = 10.0


@dataclass
class Reach:
    """How to act on each region observed: a Temporal client through its codec, and its
    keys (which sign purges)."""

    clients: dict[str, Client] = field(default_factory=dict)
    keys: dict[str, RegionKeys] = field(default_factory=dict)


@dataclass
class Result:
    status: ContactSyncStatus
    plan: Plan
    outcome: Outcome
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    # Per served region, how many of its schedules are missing; empty when Temporal was unread.
    missing_schedules: dict[str, int] = field(default_factory=dict)


@dataclass
class Reconciler:
    kube: KubeGateway
    settings: OperatorSettings
    schedule_index: ScheduleIndex = field(default_factory=ScheduleIndex)
    _clients: dict[tuple[str, str], Client] = field(default_factory=dict)

    def temporal_namespace(self, region: RegionSpec) -> str:
        return self.settings.temporal_namespace(region)

    async def client_for(self, namespace: str, keyring: Keyring) -> Client:
        """One connection per Temporal namespace and keyring, reused across reconciles.

        Keyed by the keys themselves, not their ids: two namespaces may both call their
        key k0001 and hold different bytes."""
        digest = hashlib.sha256(
            b"".join(k.encode() + keyring[k] for k in sorted(keyring))
        ).hexdigest()
        key = (namespace, digest)
        if key not in self._clients:
            self._clients[key] = await temporal_io.connect(
                self.settings.temporal, namespace, keyring
            )
        return self._clients[key]

    def secret_reads(self, namespace: str) -> SecretReads:
        return SecretReads(lambda name: self.kube.secret(namespace, name))

    async def region_keys(
        self, resource: ContactSync, region: RegionSpec, reads: SecretReads | None = None
    ) -> RegionKeys | RegionAccess:
        secret = keys_secret_of(region)
        if isinstance(secret, RegionAccess):
            return secret
        return await self.keys_in(resource.namespace, region.name, secret, reads)

    async def keys_in(
        self, namespace: str, region: str, secret: str, reads: SecretReads | None = None
    ) -> RegionKeys | RegionAccess:
        reads = reads or self.secret_reads(namespace)
        data = await asyncio.to_thread(reads.data, secret)
        return parse_keys_secret(region, secret, data)

    def _database_ports(
        self, resource: ContactSync, region: RegionSpec, reads: SecretReads
    ) -> tuple[int, ...]:
        """The ports the region's PostgreSQL DSNs name, for its NetworkPolicy. Only the port is
        kept; a DSN that cannot be read or parsed is left to the worker to report."""
        ports: set[int] = set()
        for ref in port_secret_refs(resource, region.name):
            data = reads.data(ref.name) or {}
            ports |= dsn_ports(data.get(ref.key, b""))
        return tuple(sorted(ports))

    async def _observe_egress(self, namespace: str, observed: Observed) -> str | None:
        """Read the egress policies and the namespace's labels into ``observed``; on failure,
        why. Then regions change nothing: an API hiccup must not cut workers off."""
        try:
            observed.egress_policies = await asyncio.to_thread(self.kube.egress_policies)
            observed.namespace_labels = await asyncio.to_thread(
                self.kube.namespace_labels, namespace
            )
        except KubeError as exc:
            return f"cannot read the ContactSyncEgressPolicies that apply here: {exc}"
        return None

    async def observe(
        self, resource: ContactSync, listing_age: float = 0.0
    ) -> tuple[Observed, Reach]:
        """What exists for ``resource``; its schedules' ids from a listing at most
        ``listing_age`` seconds old (see schedule_index)."""
        observed = Observed()
        observed.children, observed.workers = await asyncio.to_thread(
            self.kube.observe_children, resource.namespace, resource.name
        )
        reach = Reach()
        clients = reach.clients
        served = [r for r in resource.spec.regions if self.settings.serves(r.name)]
        prefix = naming.resource_prefix(resource.namespace, resource.name)
        unreadable = await self._observe_egress(resource.namespace, observed)
        reads = self.secret_reads(resource.namespace)
        try:
            for region in served:
                if unreadable is not None:
                    observed.access[region.name] = RegionAccess(
                        region.name, unreadable, Reason.EGRESS_POLICY_UNREADABLE
                    )
                    continue
                keys = await self.region_keys(resource, region, reads)
                if isinstance(keys, RegionAccess):
                    observed.access[region.name] = keys
                    continue
                observed.worker_keys[region.name] = keys.for_workers
                reach.keys[region.name] = keys
                refused = await asyncio.to_thread(
                    check_secrets,
                    resource,
                    region,
                    reads.meta,
                )
                if refused is not None:
                    observed.access[region.name] = refused
                    continue
                observed.database_ports[region.name] = await asyncio.to_thread(
                    self._database_ports, resource, region, reads
                )
                client = await self.client_for(self.temporal_namespace(region), keys.keyring)
                clients[region.name] = client
                listed = await self.schedule_index.ids(client, prefix, listing_age)
                observed.schedule_ids |= listed
                wanted = {d.schedule_id for d in desired_schedules(resource, region.name)}
                region_ids = {i for i in listed if i.startswith(f"{prefix}{region.name}/")}
                observed.schedules |= await temporal_io.observe_schedules(
                    client, wanted | region_ids
                )
            await self._observe_retired(resource, observed, reach, listing_age, reads)
        except temporal_io.TemporalUnavailable as exc:
            observed.temporal_error = str(exc)
        return observed, reach

    async def _observe_retired(
        self,
        resource: ContactSync,
        observed: Observed,
        reach: Reach,
        listing_age: float,
        reads: SecretReads,
    ) -> None:
        """Reach the Temporal namespace of each region the spec dropped, with the keys its
        Deployment names: its schedules are to be deleted there and, under Purge, its
        workers asked to erase what it wrote."""
        prefix = naming.resource_prefix(resource.namespace, resource.name)
        for region in retired_regions(resource, observed):
            workers = observed.workers.get(region)
            if not self.settings.serves(region) or workers is None:
                continue
            if workers.keys_secret is None:
                observed.access[region] = RegionAccess(
                    region, "its Deployment names no keys Secret", Reason.ENCRYPTION_NOT_CONFIGURED
                )
                continue
            keys = await self.keys_in(resource.namespace, region, workers.keys_secret, reads)
            if isinstance(keys, RegionAccess):
                observed.access[region] = keys
                continue
            if keys.missing_request_key:
                observed.access[region] = RegionAccess(
                    region, keys.missing_request_key, Reason.REQUEST_KEY_MISSING
                )
            namespace = workers.temporal_namespace or self.settings.temporal.namespace
            reach.clients[region] = client = await self.client_for(namespace, keys.keyring)
            reach.keys[region] = keys
            observed.schedule_ids |= await self.schedule_index.ids(
                client, f"{prefix}{region}/", listing_age
            )

    async def execute(
        self, resource: ContactSync, the_plan: Plan, observed: Observed, reach: Reach
    ) -> tuple[Outcome, list[tuple[str, str, str]]]:
        clients = reach.clients
        outcome = Outcome(schedules_present=set(observed.schedules))
        events: list[tuple[str, str, str]] = []
        for manifest in the_plan.apply:
            what = f"{manifest['kind']} {manifest['metadata']['name']}"
            try:
                await asyncio.to_thread(self.kube.apply, manifest)
                events.append(("Normal", "Applied", what))
            except ChildOwnedElsewhere as exc:
                outcome.problems.append(Problem(Reason.CHILD_OWNED_ELSEWHERE, str(exc)))
            except KubeError as exc:
                outcome.problems.append(Problem(Reason.APPLY_FAILED, str(exc)))
        for ref in the_plan.delete:
            try:
                await asyncio.to_thread(self.kube.delete, resource.namespace, ref)
                events.append(
                    ("Normal", "Deleted", f"{ref.kind} {ref.name} of a region no longer served")
                )
            except KubeError as exc:
                outcome.problems.append(Problem(Reason.DELETE_FAILED, str(exc)))
        any_client = next(iter(clients.values()), None)
        for change in the_plan.schedules:
            schedule_id = (
                change.schedule_id
                if isinstance(change, DeleteSchedule)
                else change.desired.schedule_id
            )
            region = schedule_id.removeprefix(
                naming.resource_prefix(resource.namespace, resource.name)
            ).split("/")[0]
            client = clients.get(region, any_client)
            if client is None:
                continue
            try:
                await temporal_io.apply_change(client, change)
            except temporal_io.TemporalUnavailable as exc:
                outcome.problems.append(Problem(Reason.TEMPORAL_UNAVAILABLE, str(exc)))
                break
            except temporal_io.ScheduleError as exc:
                outcome.problems.append(Problem(Reason.SCHEDULE_FAILED, str(exc)))
                continue
            if isinstance(change, CreateSchedule):
                outcome.schedules_present.add(schedule_id)
                events.append(("Normal", "ScheduleCreated", schedule_id))
            elif isinstance(change, UpdateSchedule):
                events.append(("Normal", "ScheduleUpdated", schedule_id))
            else:
                self.schedule_index.forget(client.namespace, schedule_id)
                outcome.schedules_present.discard(schedule_id)
                events.append(("Normal", "ScheduleDeleted", f"{schedule_id} (no longer declared)"))
        for purge in the_plan.purges:
            await self._purge_retired(resource, purge, observed, reach, outcome, events)
        events += [("Warning", p.reason, p.message) for p in outcome.problems]
        return outcome, events

    async def _purge_retired(
        self,
        resource: ContactSync,
        purge: PurgeRetiredRegion,
        observed: Observed,
        reach: Reach,
        outcome: Outcome,
        events: list[tuple[str, str, str]],
    ) -> None:
        """Ask a dropped region's workers to erase what it wrote; delete them once they have.
        A purge still running is joined again by the next reconcile."""
        client, keys = reach.clients.get(purge.region), reach.keys.get(purge.region)
        request = RegionRunRequest(resource.namespace, resource.name, purge.region)
        signed = keys.signed_purge(request, purge.workflow_id, datetime.now(UTC)) if keys else None
        if client is None or signed is None:
            access = observed.access.get(purge.region)
            why = (
                access.problem
                if access and access.problem
                else observed.temporal_error or "its worker Deployment is gone"
            )
            outcome.problems.append(
                Problem(
                    Reason.REGION_PURGE_BLOCKED,
                    f"region {purge.region} left the spec and cannot be purged ({why}); its "
                    f"workers stay until it is. Fix that, or annotate "
                    f"{overrides.SKIP_PURGE}=true to remove them without purging",
                )
            )
            return
        try:
            status = await temporal_io.run_to_completion(
                client,
                PURGE_WORKFLOW,
                signed,
                purge.workflow_id,
                purge.task_queue,
                RETIRED_PURGE_WAIT_SECONDS,
            )
        except temporal_io.TemporalUnavailable as exc:
            outcome.problems.append(Problem(Reason.TEMPORAL_UNAVAILABLE, str(exc)))
            return
        if status == "RUNNING":
            events.append(
                ("Normal", "RegionPurging", f"region {purge.region} left the spec; purging it")
            )
            return
        if status != "COMPLETED":
            outcome.problems.append(
                Problem(
                    Reason.REGION_PURGE_FAILED, f"purge of removed region {purge.region}: {status}"
                )
            )
            return
        events.append(("Normal", "RegionPurged", f"region {purge.region} left the spec; purged"))
        for ref in purge.children:
            try:
                await asyncio.to_thread(self.kube.delete, resource.namespace, ref)
                events.append(("Normal", "Deleted", f"{ref.kind} {ref.name} of a purged region"))
            except KubeError as exc:
                outcome.problems.append(Problem(Reason.DELETE_FAILED, str(exc)))

    async def reconcile(
        self,
        resource: ContactSync,
        previous_conditions: Sequence[Mapping[str, Any]],
        listing_age: float = 0.0,
    ) -> Result:
        observed, reach = await self.observe(resource, listing_age)
        the_plan = plan(resource, observed, self.settings)
        outcome, events = await self.execute(resource, the_plan, observed, reach)
        declared = {r.name for r in resource.spec.regions}
        if resource.spec.deletion_policy is DeletionPolicy.PURGE:
            # Deletion could only wait for ever: say so now, not when someone deletes.
            for keys in reach.keys.values():
                if keys.missing_request_key and keys.region in declared:
                    problem = Problem(Reason.REQUEST_KEY_MISSING, keys.missing_request_key)
                    outcome.problems.append(problem)
                    events.append(("Warning", problem.reason, problem.message))
        for region in the_plan.regions:
            if region.blocked_reason:
                events.append(
                    (
                        "Warning",
                        region.blocked_reason,
                        f"region {region.name}: {region.blocked_message}",
                    )
                )
        if observed.temporal_error:
            events.append(("Warning", Reason.TEMPORAL_UNAVAILABLE, observed.temporal_error))
        status = build_status(
            resource, the_plan, observed, outcome, previous_conditions, datetime.now(UTC)
        )
        missing = missing_schedules(the_plan, observed, outcome)
        return Result(status, the_plan, outcome, events, missing)
