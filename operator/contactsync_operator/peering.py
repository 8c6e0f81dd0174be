"""The Kopf peering object the operator's replicas share, made by the operator itself.

Kopf elects one active replica through a peering object, and pauses for ever when the one
it is told to use does not exist. Installs that cannot create it in the right order (one
replica, `kubectl apply -f` of everything at once, CRDs owned by a GitOps tool) would then
reconcile nothing; so the operator creates it at start, once, and leaves it to Kopf.
"""

from __future__ import annotations

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

PEERING_NAME = "contactsync"
_GROUP, _VERSION = "kopf.dev", "v1"


class PeeringUnavailable(RuntimeError):
    """The peering object cannot be made; the message says what to install or grant."""


def ensure_peering(api: k8s.ApiClient, namespaces: tuple[str, ...]) -> list[str]:
    """Create the peering object (cluster-wide, or one per watched namespace) where it is
    missing; returns what it created, as ``kind/namespace/name``."""
    custom = k8s.CustomObjectsApi(api)
    created = []
    for namespace in namespaces or (None,):
        kind = "KopfPeering" if namespace else "ClusterKopfPeering"
        body = {
            "apiVersion": f"{_GROUP}/{_VERSION}",
            "kind": kind,
            "metadata": {"name": PEERING_NAME},
        }
        try:
            if namespace:
                custom.create_namespaced_custom_object(
                    _GROUP, _VERSION, namespace, "kopfpeerings", body
                )
            else:
                custom.create_cluster_custom_object(_GROUP, _VERSION, "clusterkopfpeerings", body)
        except ApiException as exc:
            if exc.status == 409:
                continue  # there already: Kopf's records in it stay as they are
            raise PeeringUnavailable(_explain(kind, namespace, exc)) from exc
        created.append(f"{kind}/{namespace or '-'}/{PEERING_NAME}")
    return created


def _explain(kind: str, namespace: str | None, exc: ApiException) -> str:
    where = f" in namespace {namespace}" if namespace else ""
    if exc.status == 404:
        return (
            f"cannot create {kind} {PEERING_NAME}{where}: the Kopf peering CRDs are not "
            "installed (kubectl apply -f crds/, or the chart with crds.install=true); "
            "or run one replica with --standalone"
        )
    if exc.status == 403:
        return f"cannot create {kind} {PEERING_NAME}{where}: the operator may not (RBAC)"
    return f"cannot create {kind} {PEERING_NAME}{where}: HTTP {exc.status} {exc.reason}"
