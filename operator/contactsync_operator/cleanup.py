"""What deleting a ContactSync does before Kubernetes lets it go.

Schedules are removed first, so no new run starts. With ``deletionPolicy:
Purge`` each region's workers then erase what this ContactSync wrote, while
they still exist (the finalizer holds the owner, and with it the workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contactsync_operator import naming
from contactsync_operator import temporal as temporal_io
from contactsync_operator.api.manifest import ContactSync
from contactsync_operator.reconcile import Reconciler
from contactsync_worker.contracts import PURGE_WORKFLOW, RegionRunRequest
from contactsync_worker.contracts.spec import DeletionPolicy
from contactsync_worker.keyring import Keyring

FORCE_ANNOTATION = "contactsync.dev/force-delete"
SKIP_PURGE_ANNOTATION = "contactsync.dev/skip-purge"
PURGE_WAIT_SECONDS = 20.0


@dataclass
class CleanupResult:
    done: bool
    deleted_schedules: list[str] = field(default_factory=list)
    purged_regions: list[str] = field(default_factory=list)
    waiting: str = ""  # why not done yet, for the condition and the Event


async def cleanup(reconciler: Reconciler, resource: ContactSync, skip_purge: bool) -> CleanupResult:
    """Remove schedules, then purge if asked. Raises TemporalUnavailable to retry later."""
    result = CleanupResult(done=False)
    prefix = naming.resource_prefix(resource.namespace, resource.name)
    served = [r for r in resource.spec.regions if reconciler.settings.serves(r.name)]
    namespaces = {reconciler.settings.temporal.namespace} | {
        reconciler.temporal_namespace(r) for r in served
    }
    for namespace in sorted(namespaces):
        client = await temporal_io.connect(reconciler.settings.temporal, namespace, None)
        result.deleted_schedules += await temporal_io.delete_schedules(client, prefix)
    if resource.spec.deletion_policy is DeletionPolicy.PURGE and not skip_purge:
        for region in served:
            keyring = await reconciler.keyring(resource, region)
            if not isinstance(keyring, Keyring):
                result.waiting = (
                    f"purge of region {region.name} cannot start: {keyring.problem}; restore it, "
                    f"or annotate {SKIP_PURGE_ANNOTATION}=true to delete without purging"
                )
                return result
            client = await reconciler.client_for(reconciler.temporal_namespace(region), keyring)
            status = await temporal_io.run_to_completion(
                client,
                PURGE_WORKFLOW,
                RegionRunRequest(resource.namespace, resource.name, region.name),
                naming.purge_workflow_id(
                    resource.namespace, resource.name, region.name, resource.uid
                ),
                naming.task_queue(resource.namespace, resource.name, region.name),
                PURGE_WAIT_SECONDS,
            )
            if status != "COMPLETED":
                result.waiting = f"purge of region {region.name}: {status}"
                return result
            result.purged_regions.append(region.name)
    result.done = True
    return result
