"""What deleting a ContactSync does before Kubernetes lets it go.

Schedules are removed first, so no new run starts. With ``deletionPolicy:
Purge`` each region's workers then erase what this ContactSync wrote, while
they still exist (the finalizer holds the owner, and with it the workers).

Deleting the whole namespace is different: Kubernetes deletes the workers and
the Secrets beside the ContactSync, and nothing new may start there. A region
whose workers are gone cannot be purged by anyone, and waiting for it would
keep the namespace in Terminating for ever; its purge is abandoned, loudly
(``abandoned_regions``), and the finalizer released.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime

from contactsync_api.manifest import ContactSync
from contactsync_api.spec import DeletionPolicy
from contactsync_api.workflows import PURGE_WORKFLOW, RegionRunRequest
from contactsync_operator import naming
from contactsync_operator import temporal as temporal_io
from contactsync_operator.observed import ObservedWorkers, RegionAccess
from contactsync_operator.overrides import SKIP_PURGE
from contactsync_operator.reconcile import Reconciler

PURGE_WAIT_SECONDS = 20.0


@dataclass
class CleanupResult:
    done: bool
    deleted_schedules: list[str] = field(default_factory=list)
    purged_regions: list[str] = field(default_factory=list)
    # Purges that could not run because the namespace went with the region's workers.
    abandoned_regions: list[str] = field(default_factory=list)
    waiting: str = ""  # why not done yet, for the condition and the Event


async def cleanup(reconciler: Reconciler, resource: ContactSync, skip_purge: bool) -> CleanupResult:
    """Remove schedules, then purge if asked. Raises TemporalUnavailable to retry later."""
    result = CleanupResult(done=False)
    prefix = naming.resource_prefix(resource.namespace, resource.name)
    served = [r for r in resource.spec.regions if reconciler.settings.serves(r.name)]
    namespaces = {reconciler.settings.temporal.namespace} | {
        reconciler.temporal_namespace(r) for r in served
    }
    # Without keys: deleting schedules and terminating workflows carry no payloads.
    keyless = {
        namespace: await temporal_io.connect(reconciler.settings.temporal, namespace, None)
        for namespace in sorted(namespaces)
    }
    for namespace, client in keyless.items():
        deleted = await temporal_io.delete_schedules(client, prefix)
        for schedule_id in deleted:
            reconciler.schedule_index.forget(namespace, schedule_id)
        result.deleted_schedules += deleted
    if resource.spec.deletion_policy is not DeletionPolicy.PURGE or skip_purge:
        result.done = True
        return result
    kube = reconciler.kube
    terminating = await asyncio.to_thread(kube.namespace_terminating, resource.namespace)
    workers: dict[str, ObservedWorkers] = {}
    if terminating:
        _, workers = await asyncio.to_thread(
            kube.observe_children, resource.namespace, resource.name
        )
    for region in served:
        workflow_id = naming.purge_workflow_id(
            resource.namespace, resource.name, region.name, resource.uid
        )
        if terminating and not (workers.get(region.name) and workers[region.name].ready):
            # A purge an earlier attempt started waits on a queue no worker will poll again.
            await temporal_io.terminate_if_running(
                keyless[reconciler.temporal_namespace(region)],
                workflow_id,
                "the namespace was deleted with the workers that would purge",
            )
            result.abandoned_regions.append(region.name)
            continue
        keys = await reconciler.region_keys(resource, region)
        request = RegionRunRequest(resource.namespace, resource.name, region.name)
        problem = keys.problem if isinstance(keys, RegionAccess) else keys.missing_request_key
        if problem or isinstance(keys, RegionAccess):
            result.waiting = (
                f"purge of region {region.name} cannot start: {problem}; fix that, "
                f"or annotate {SKIP_PURGE}=true to delete without purging"
            )
            return result
        signed = keys.signed_purge(request, workflow_id, datetime.now(UTC))
        client = await reconciler.client_for(reconciler.temporal_namespace(region), keys.keyring)
        status = await temporal_io.run_to_completion(
            client,
            PURGE_WORKFLOW,
            signed,
            workflow_id,
            naming.task_queue(resource.namespace, resource.name, region.name),
            PURGE_WAIT_SECONDS,
        )
        if status != "COMPLETED":
            result.waiting = f"purge of region {region.name}: {status}"
            return result
        result.purged_regions.append(region.name)
    result.done = True
    return result
