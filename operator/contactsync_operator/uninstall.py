"""What uninstalling the operator does with the ContactSyncs it leaves behind.

Every ContactSync carries the operator's finalizer; with the operator gone nothing removes it,
so deleting one later hangs, and so does its namespace. Run before the operator goes (the
chart's pre-delete hook, or by hand before ``kubectl delete -f deploy/install.yaml``):

- ``release``: stop the operator (scale its Deployment to zero, or it would put the finalizer
  back at once), then take the finalizer off every ContactSync. They stay, and their workers
  and schedules keep running until the ContactSyncs are deleted; a reinstalled operator adopts
  them again. Their Temporal schedules are not deleted by a later ``kubectl delete``.
- ``delete``: delete every ContactSync while the operator still runs, and wait until it has
  cleaned each one up (schedules deleted; purged under ``deletionPolicy: Purge``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from contactsync_api.spec import GROUP, PLURAL, VERSION
from contactsync_operator import naming


class UninstallError(RuntimeError):
    """The ContactSyncs could not be released or cleaned up; the message says which and why."""


@dataclass(frozen=True)
class OperatorDeployment:
    namespace: str
    name: str


def contact_syncs(api: k8s.ApiClient, namespaces: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """(namespace, name) of every ContactSync the operator watches."""
    custom = k8s.CustomObjectsApi(api)
    if namespaces:
        listings = [
            custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
            for namespace in namespaces
        ]
    else:
        listings = [custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)]
    for listing in listings:
        for item in cast(dict[str, Any], listing).get("items", []):
            yield item["metadata"]["namespace"], item["metadata"]["name"]


def stop_operator(api: k8s.ApiClient, operator: OperatorDeployment, timeout: float) -> None:
    """Scale the operator to zero and wait until none of its pods runs."""
    apps = k8s.AppsV1Api(api)
    apps.patch_namespaced_deployment_scale(
        operator.name, operator.namespace, {"spec": {"replicas": 0}}
    )
    deadline = time.monotonic() + timeout
    while True:
        status = apps.read_namespaced_deployment(operator.name, operator.namespace).status
        if status is None or not (status.replicas or 0):
            return
        if time.monotonic() > deadline:
            raise UninstallError(f"the operator's pods did not stop within {timeout:.0f}s")
        time.sleep(1)


def release(api: k8s.ApiClient, namespaces: tuple[str, ...]) -> list[str]:
    """Take the operator's finalizer off every ContactSync; returns namespace/name of each."""
    custom = k8s.CustomObjectsApi(api)
    released = []
    for namespace, name in contact_syncs(api, namespaces):
        for _attempt in range(5):
            live = cast(
                dict[str, Any],
                custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name),
            )
            finalizers = live["metadata"].get("finalizers") or []
            if naming.FINALIZER not in finalizers:
                break
            patch = {
                "metadata": {
                    # Compare-and-swap: a concurrent change to the list is not overwritten.
                    "resourceVersion": live["metadata"]["resourceVersion"],
                    "finalizers": [f for f in finalizers if f != naming.FINALIZER],
                }
            }
            try:
                custom.patch_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, name, patch
                )
                released.append(f"{namespace}/{name}")
                break
            except ApiException as exc:
                if exc.status != 409:
                    raise
        else:
            raise UninstallError(f"{namespace}/{name} kept changing; run the release again")
    return released


def delete_all(api: k8s.ApiClient, namespaces: tuple[str, ...], timeout: float) -> list[str]:
    """Delete every ContactSync and wait until the operator has cleaned each one up."""
    custom = k8s.CustomObjectsApi(api)
    pending = list(contact_syncs(api, namespaces))
    for namespace, name in pending:
        try:
            custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + timeout
    waiting = set(pending)
    while waiting:
        waiting = {
            (namespace, name) for namespace, name in waiting if _exists(custom, namespace, name)
        }
        if waiting and time.monotonic() > deadline:
            names = ", ".join(sorted(f"{n}/{m}" for n, m in waiting))
            raise UninstallError(
                f"not cleaned up within {timeout:.0f}s: {names}; their status says why "
                "(kubectl describe contactsync)"
            )
        if waiting:
            time.sleep(2)
    return [f"{namespace}/{name}" for namespace, name in pending]


def _exists(custom: k8s.CustomObjectsApi, namespace: str, name: str) -> bool:
    try:
        custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True
