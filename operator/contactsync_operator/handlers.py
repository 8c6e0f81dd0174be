"""Thin Kopf handlers: parse, reconcile, write status once, post Events.

Importing this module registers the handlers; ``contactsync operator`` imports
it and runs Kopf.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import UTC, datetime
from typing import Any

import kopf

from contactsync_api.manifest import ManifestError, parse_contact_sync
from contactsync_api.reasons import Reason
from contactsync_api.spec import GROUP, PLURAL, VERSION
from contactsync_api.status import serialized
from contactsync_operator import kube, metrics, naming, run_events
from contactsync_operator.cleanup import cleanup
from contactsync_operator.conditions import deletion_waits, reconcile_outcome, spec_refused
from contactsync_operator.default_egress import DefaultPolicyError
from contactsync_operator.kube import KubeGateway, ensure_default_policy
from contactsync_operator.overrides import FORCE_DELETE, SKIP_PURGE, is_set
from contactsync_operator.peering import PEERING_NAME, PeeringUnavailable, ensure_peering
from contactsync_operator.reconcile import Reconciler
from contactsync_operator.settings import OperatorSettings, settings_from_env
from contactsync_operator.spread import first_tick
from contactsync_operator.status_writes import LAST_WRITTEN, needs_writing
from contactsync_operator.temporal import TemporalUnavailable

RESOURCE = (GROUP, VERSION, PLURAL)
SETTINGS: OperatorSettings = settings_from_env()
CLEANUP_RETRY_SECONDS = 10.0
logger = logging.getLogger(__name__)


def _reconciler(memo: kopf.Memo) -> Reconciler:
    reconciler: Reconciler = memo["reconciler"]
    return reconciler


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Progress and diff-base go to annotations: the CRD prunes undeclared status fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = naming.FINALIZER
    # Two replicas with equal priority would both freeze; a random one lets one lead.
    settings.peering.name = PEERING_NAME
    settings.peering.priority = random.randint(1, 1_000_000)  # noqa: S311 - not for secrecy
    settings.peering.clusterwide = not SETTINGS.namespaces
    # Watches can stall silently; the server closes them and the client gives up after this.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    settings.posting.reporting_component = "contactsync-operator"
    settings.posting.level = 20  # INFO: Events for what the operator did
    api = kube.api_client()
    if not settings.peering.standalone:
        try:
            created = await asyncio.to_thread(ensure_peering, api, SETTINGS.namespaces)
        except PeeringUnavailable as exc:
            raise kopf.PermanentError(str(exc)) from exc
        for what in created:
            logger.info("created the peering object %s", what)
    default_policy = SETTINGS.default_egress_policy
    if default_policy is not None:
        try:
            made = await asyncio.to_thread(ensure_default_policy, api, default_policy)
        except DefaultPolicyError as exc:
            raise kopf.PermanentError(str(exc)) from exc
        if made:
            name = default_policy["metadata"]["name"]
            logger.info("created the default ContactSyncEgressPolicy %s", name)
    memo["reconciler"] = Reconciler(KubeGateway(api), SETTINGS)
    metrics.serve(SETTINGS.metrics_port, SETTINGS.resync_seconds)


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE, field="spec")
async def reconcile(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    # A start, a new resource or a new spec: leftovers are looked for in a schedule listing
    # begun after now, as an earlier one may predate what changed.
    await _reconcile(body, status, patch, memo, listing_age=0.0)


def _first_resync(meta: kopf.Meta, **_: Any) -> float:
    return first_tick(str(meta.get("uid", "")), SETTINGS.resync_seconds)


@kopf.timer(*RESOURCE, interval=SETTINGS.resync_seconds, initial_delay=_first_resync)
async def resync(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo, **_: Any
) -> None:
    # The level-based tick: a listing from within the last period will do, so one listing per
    # Temporal namespace serves every ContactSync's tick (see schedule_index).
    await _reconcile(body, status, patch, memo, listing_age=SETTINGS.resync_seconds)


async def _reconcile(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, memo: kopf.Memo, listing_age: float
) -> None:
    started = time.monotonic()
    if body.meta.get("deletionTimestamp"):
        return
    try:
        resource = parse_contact_sync(dict(body))
    except ManifestError as exc:
        raise kopf.PermanentError(_refuse_spec(body, status, patch, exc)) from exc
    try:
        conditions = list(status.get("conditions") or [])
        result = await _reconciler(memo).reconcile(resource, conditions, listing_age)
    except Exception:
        metrics.RECONCILES.labels("error").inc()  # Kopf logs it and retries
        raise
    written = serialized(result.status)
    if needs_writing(written, status, memo.get(LAST_WRITTEN)):
        patch.status.update(written)
    memo[LAST_WRITTEN] = written
    runs = run_events.failed_runs(status.get("regions") or [], written.get("regions") or [])
    for kind, reason, message in [*result.events, *runs]:
        (kopf.warn if kind == "Warning" else kopf.info)(body, reason=reason, message=message)
    for problem in result.outcome.problems:
        metrics.ERRORS.labels(problem.reason).inc()
    metrics.RECONCILES.labels(reconcile_outcome(result.status)).inc()
    metrics.CONTACTSYNCS.record(
        resource.namespace, resource.name, written, result.missing_schedules
    )
    metrics.LATENCY.observe(time.monotonic() - started)


@kopf.on.delete(*RESOURCE)
async def finalize(
    body: kopf.Body,
    meta: kopf.Meta,
    status: kopf.Status,
    retry: int,
    patch: kopf.Patch,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    annotations = meta.get("annotations") or {}
    if is_set(annotations, FORCE_DELETE):
        metrics.CONTACTSYNCS.forget(meta["namespace"], meta["name"])
        kopf.warn(body, reason="ForceDeleted", message=f"{FORCE_DELETE}: Temporal left as it is")
        return
    try:
        # The rules waived: a spec they refuse may still have schedules from an earlier
        # generation, or from before a rule existed, and those must go.
        resource = parse_contact_sync(dict(body), rules=False)
    except ManifestError:
        return  # nothing was ever created for a spec of the wrong shape
    skip_purge = is_set(annotations, SKIP_PURGE)
    try:
        result = await cleanup(_reconciler(memo), resource, skip_purge)
    except TemporalUnavailable as exc:
        why = f"Temporal is unavailable: {exc}"
        _cleanup_blocked(body, resource.generation, status, patch, retry, why)
        raise kopf.TemporaryError(str(exc), delay=CLEANUP_RETRY_SECONDS) from exc
    if not result.done:
        _cleanup_blocked(body, resource.generation, status, patch, retry, result.waiting)
        raise kopf.TemporaryError(result.waiting, delay=CLEANUP_RETRY_SECONDS)
    message = f"deleted schedules {', '.join(result.deleted_schedules) or 'none'}"
    if result.purged_regions:
        message += f"; purged regions {', '.join(result.purged_regions)}"
    if result.abandoned_regions:
        # The namespace is going: an Event may not be accepted there, the log always is.
        abandoned = ", ".join(result.abandoned_regions)
        message += (
            f"; NOT purged: regions {abandoned} (the namespace was deleted with their workers; "
            "what they wrote stays in the destinations)"
        )
        metrics.PURGES_ABANDONED.inc(len(result.abandoned_regions))
        logger.warning("%s/%s: %s", meta.get("namespace"), meta.get("name"), message)
    metrics.CONTACTSYNCS.forget(resource.namespace, resource.name)
    kopf.info(body, reason="CleanedUp", message=message)


def _refuse_spec(
    body: kopf.Body, status: kopf.Status, patch: kopf.Patch, exc: ManifestError
) -> str:
    """Say why the spec is refused, in status and an Event, before anything of it is applied.

    The API server admitted it, so a check it cannot run (a time zone, an LDAP filter) or a
    rule newer than the stored object refused it; what an earlier generation created stays."""
    message = "; ".join(exc.problems)
    generation = int(body.meta.get("generation") or 0)
    conditions = spec_refused(
        list(status.get("conditions") or []), message, generation, datetime.now(UTC)
    )
    patch.status["observedGeneration"] = generation
    patch.status["conditions"] = conditions
    kopf.warn(body, reason=Reason.INVALID_SPEC, message=message)
    metrics.RECONCILES.labels("invalid").inc()
    metrics.ERRORS.labels(Reason.INVALID_SPEC).inc()
    meta = body.meta
    written = {**dict(status), "observedGeneration": generation, "conditions": conditions}
    metrics.CONTACTSYNCS.record(str(meta.get("namespace")), str(meta.get("name")), written, {})
    return message


def _cleanup_blocked(
    body: kopf.Body,
    generation: int,
    status: kopf.Status,
    patch: kopf.Patch,
    retry: int,
    why: str,
) -> None:
    """Say loudly why deletion waits, and how to get out, without giving up on the data."""
    message = (
        f"deletion waits (attempt {retry + 1}): {why}. Retrying every "
        f"{CLEANUP_RETRY_SECONDS:.0f}s; to delete without cleaning up Temporal, "
        f"annotate {FORCE_DELETE}=true"
    )
    kopf.warn(body, reason=Reason.CLEANUP_BLOCKED, message=message)
    previous = list(status.get("conditions") or [])
    now = datetime.now(UTC)
    patch.status["conditions"] = deletion_waits(previous, message, generation, now)
