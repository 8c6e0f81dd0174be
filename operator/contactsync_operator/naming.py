"""Deterministic names of everything the operator creates for a ContactSync.

Names derive from namespace, name and region only, so a restarted operator finds
what an earlier one made, and an orphan sweep can match by prefix.
"""

from __future__ import annotations

import hashlib

from contactsync_api import runtime

PREFIX = "contactsync"
# The operator's finalizer on every ContactSync (Kopf's, under this name).
FINALIZER = "contactsync.dev/cleanup"
_K8S_NAME_LIMIT = 63


def resource_prefix(namespace: str, name: str) -> str:
    """Every Temporal id of one ContactSync starts with this; used to sweep orphans."""
    return f"{PREFIX}/{namespace}/{name}/"


def task_queue(namespace: str, name: str, region: str) -> str:
    return runtime.task_queue(namespace, name, region)


def sync_schedule_id(namespace: str, name: str, region: str) -> str:
    return f"{resource_prefix(namespace, name)}{region}/sync"


def retention_schedule_id(namespace: str, name: str, region: str) -> str:
    return f"{resource_prefix(namespace, name)}{region}/retention"


def purge_workflow_id(namespace: str, name: str, region: str, uid: str) -> str:
    """One purge per ContactSync object: a ContactSync deleted and created again under the same
    name is a new object (a new uid) whose purge must run, not read as the old one's."""
    return f"{resource_prefix(namespace, name)}{region}/purge/{uid}"


def object_name(name: str, region: str, suffix: str = "worker") -> str:
    """A Kubernetes object name for a region's child: readable, and unique by construction.

    ``name-region`` alone is ambiguous (``a-b`` in ``c`` and ``a`` in ``b-c``), so every name
    carries a hash of the (name, region) pair; a name too long is shortened before the hash.
    """
    digest = hashlib.sha256(f"{name}\x00{region}".encode()).hexdigest()[:8]
    readable = f"{name}-{region}"
    keep = _K8S_NAME_LIMIT - len(suffix) - len(digest) - 2
    return f"{readable[:keep].rstrip('-')}-{digest}-{suffix}"


NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
REGION_LABEL = "contactsync.dev/region"
# A Secret a ContactSync may mount carries this label with the ContactSync's name as value.
SECRET_USE_LABEL = "contactsync.dev/use"  # noqa: S105 - a label key, not a password
WORKER_APP = "contactsync-worker"
MANAGER = "contactsync-operator"


def selector_labels(name: str, region: str) -> dict[str, str]:
    """Labels that pick one region's worker pods; immutable in a Deployment, so minimal."""
    return {NAME_LABEL: WORKER_APP, INSTANCE_LABEL: name, REGION_LABEL: region}


def child_labels(name: str, region: str) -> dict[str, str]:
    return {
        **selector_labels(name, region),
        "app.kubernetes.io/component": "worker",
        "app.kubernetes.io/part-of": "contactsync",
        "app.kubernetes.io/managed-by": MANAGER,
    }


def children_selector(name: str) -> str:
    """Label selector for every child of one ContactSync, across its regions."""
    return f"{NAME_LABEL}={WORKER_APP},{INSTANCE_LABEL}={name}"
