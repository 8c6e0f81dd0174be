"""Kubernetes I/O of the operator: read children and Secrets, server-side apply, delete.

Errors leave this module as KubeError with the API server's reason, never as
the client library's ApiException.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from contactsync_api import egress_policy
from contactsync_api.egress_policy import EgressPolicy, parse_egress_policy
from contactsync_api.manifest import ManifestError
from contactsync_api.spec import GROUP, VERSION
from contactsync_operator import naming
from contactsync_operator.children import (
    HASH_ANNOTATION,
    KEYS_SECRET_ANNOTATION,
    TEMPORAL_NAMESPACE_ANNOTATION,
)
from contactsync_operator.default_egress import DefaultPolicyError
from contactsync_operator.observed import ChildRef, ObservedChild, ObservedWorkers

log = logging.getLogger(__name__)
FIELD_MANAGER = "contactsync-operator"
APPLY_PATCH = "application/apply-patch+yaml"


class KubeError(RuntimeError):
    def __init__(self, action: str, status: int | None, reason: str, message: str) -> None:
        super().__init__(f"{action}: {reason}: {message}")
        self.status = status
        self.reason = reason


class ChildOwnedElsewhere(KubeError):
    """An object under a child's name exists and another owner (or none) controls it."""

    def __init__(self, what: str, holder: str) -> None:
        super().__init__(
            f"apply {what}",
            409,
            "OwnedElsewhere",
            f"it exists and is controlled by {holder}; the operator does not take it over. "
            "Rename or delete that object",
        )


def _translate(action: str, exc: ApiException) -> KubeError:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        body = {}
    return KubeError(
        action, exc.status, body.get("reason") or str(exc.reason), body.get("message", "")
    )


@dataclass(frozen=True)
class SecretMeta:
    name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    type: str


@dataclass(frozen=True)
class StoredSecret:
    meta: SecretMeta
    data: dict[str, bytes]  # decoded


@dataclass(frozen=True)
class _Kind:
    api_version: str
    kind: str
    list: Callable[..., Any]
    read: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., Any]


def api_client() -> k8s.ApiClient:
    """In a pod, its ServiceAccount; elsewhere, the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    try:
        k8s_config.load_incluster_config()
    except k8s_config.ConfigException:
        k8s_config.load_kube_config()
    return k8s.ApiClient()


class KubeGateway:
    """The operator's view of one cluster, through a kubernetes ApiClient."""

    def __init__(self, api: k8s.ApiClient) -> None:
        core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
        policy, networking = k8s.PolicyV1Api(api), k8s.NetworkingV1Api(api)
        self._core = core
        self._objects = k8s.CustomObjectsApi(api)
        self._kinds = {
            k.kind: k
            for k in (
                _Kind(
                    "v1",
                    "ServiceAccount",
                    core.list_namespaced_service_account,
                    core.read_namespaced_service_account,
                    core.patch_namespaced_service_account,
                    core.delete_namespaced_service_account,
                ),
                _Kind(
                    "v1",
                    "PersistentVolumeClaim",
                    core.list_namespaced_persistent_volume_claim,
                    core.read_namespaced_persistent_volume_claim,
                    core.patch_namespaced_persistent_volume_claim,
                    core.delete_namespaced_persistent_volume_claim,
                ),
                _Kind(
                    "v1",
                    "ConfigMap",
                    core.list_namespaced_config_map,
                    core.read_namespaced_config_map,
                    core.patch_namespaced_config_map,
                    core.delete_namespaced_config_map,
                ),
                _Kind(
                    "apps/v1",
                    "Deployment",
                    apps.list_namespaced_deployment,
                    apps.read_namespaced_deployment,
                    apps.patch_namespaced_deployment,
                    apps.delete_namespaced_deployment,
                ),
                _Kind(
                    "policy/v1",
                    "PodDisruptionBudget",
                    policy.list_namespaced_pod_disruption_budget,
                    policy.read_namespaced_pod_disruption_budget,
                    policy.patch_namespaced_pod_disruption_budget,
                    policy.delete_namespaced_pod_disruption_budget,
                ),
                _Kind(
                    "networking.k8s.io/v1",
                    "NetworkPolicy",
                    networking.list_namespaced_network_policy,
                    networking.read_namespaced_network_policy,
                    networking.patch_namespaced_network_policy,
                    networking.delete_namespaced_network_policy,
                ),
            )
        }

    def observe_children(
        self, namespace: str, name: str
    ) -> tuple[dict[ChildRef, ObservedChild], dict[str, ObservedWorkers]]:
        children: dict[ChildRef, ObservedChild] = {}
        workers: dict[str, ObservedWorkers] = {}
        selector = naming.children_selector(name)
        for kind in self._kinds.values():
            try:
                items = kind.list(namespace, label_selector=selector).items
            except ApiException as exc:
                raise _translate(f"list {kind.kind}", exc) from exc
            for item in items:
                meta = item.metadata
                region = (meta.labels or {}).get(naming.REGION_LABEL, "")
                ref = ChildRef(kind.api_version, kind.kind, meta.name)
                children[ref] = ObservedChild(
                    ref, region, (meta.annotations or {}).get(HASH_ANNOTATION)
                )
                if kind.kind == "Deployment":
                    annotations = meta.annotations or {}
                    workers[region] = ObservedWorkers(
                        desired=item.spec.replicas or 0,
                        ready=(item.status.ready_replicas or 0),
                        deployment_uid=meta.uid or "",
                        keys_secret=annotations.get(KEYS_SECRET_ANNOTATION),
                        temporal_namespace=annotations.get(TEMPORAL_NAMESPACE_ANNOTATION),
                    )
        return children, workers

    def apply(self, manifest: dict[str, Any]) -> None:
        """Server-side apply with force, but only over an object this ContactSync controls
        (or none): force takes fields over, so the owner is checked first."""
        kind = self._kinds[manifest["kind"]]
        meta = manifest["metadata"]
        self._check_owner(kind, manifest)
        try:
            kind.patch(
                meta["name"],
                meta["namespace"],
                manifest,
                field_manager=FIELD_MANAGER,
                force=True,
                _content_type=APPLY_PATCH,
            )
        except ApiException as exc:
            raise _translate(f"apply {manifest['kind']} {meta['name']}", exc) from exc

    def _check_owner(self, kind: _Kind, manifest: dict[str, Any]) -> None:
        meta = manifest["metadata"]
        try:
            existing = kind.read(meta["name"], meta["namespace"])
        except ApiException as exc:
            if exc.status == 404:
                return
            raise _translate(f"read {kind.kind} {meta['name']}", exc) from exc
        wanted = {ref["uid"] for ref in meta.get("ownerReferences", []) if ref.get("controller")}
        controllers = [ref for ref in (existing.metadata.owner_references or []) if ref.controller]
        if not any(ref.uid in wanted for ref in controllers):
            holder = (
                f"{controllers[0].kind} {controllers[0].name} (uid {controllers[0].uid})"
                if controllers
                else "no controller (made by someone else)"
            )
            raise ChildOwnedElsewhere(f"{kind.kind} {meta['name']}", holder)

    def delete(self, namespace: str, ref: ChildRef) -> None:
        try:
            self._kinds[ref.kind].delete(ref.name, namespace, propagation_policy="Background")
        except ApiException as exc:
            if exc.status != 404:
                raise _translate(f"delete {ref.kind} {ref.name}", exc) from exc

    def secret(self, namespace: str, name: str) -> StoredSecret | None:
        """A Secret's metadata and decoded data, or None when it does not exist."""
        try:
            secret: k8s.V1Secret = self._core.read_namespaced_secret(name, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _translate(f"read Secret {name}", exc) from exc
        meta = secret.metadata
        labels = (meta.labels if meta else None) or {}
        annotations = (meta.annotations if meta else None) or {}
        return StoredSecret(
            SecretMeta(name, dict(labels), dict(annotations), secret.type or "Opaque"),
            {key: base64.b64decode(value) for key, value in (secret.data or {}).items()},
        )

    def egress_policies(self) -> tuple[EgressPolicy, ...]:
        """Every ContactSyncEgressPolicy in the cluster. One the model refuses (stored before a
        validation rule existed, say) allows nothing: it is left out and logged."""
        try:
            listed = cast(
                dict[str, Any],
                self._objects.list_cluster_custom_object(GROUP, VERSION, egress_policy.PLURAL),
            )
        except ApiException as exc:
            raise _translate(f"list {egress_policy.KIND}", exc) from exc
        policies = []
        for item in listed.get("items", []):
            try:
                policies.append(parse_egress_policy(item))
            except ManifestError as exc:
                log.warning("ignoring an invalid egress policy: %s", exc)
        return tuple(policies)

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        try:
            found = self._core.read_namespace(namespace)
        except ApiException as exc:
            raise _translate(f"read Namespace {namespace}", exc) from exc
        return dict((found.metadata and found.metadata.labels) or {})

    def namespace_terminating(self, namespace: str) -> bool:
        """True once the namespace is being deleted: its workers and Secrets are going, and
        nothing new may be created in it. Unknown (no permission) reads as not terminating."""
        try:
            found: k8s.V1Namespace = self._core.read_namespace(namespace)
        except ApiException as exc:
            if exc.status == 404:
                return True
            if exc.status == 403:
                return False
            raise _translate(f"read Namespace {namespace}", exc) from exc
        phase = found.status.phase if found.status else None
        deleting = found.metadata is not None and found.metadata.deletion_timestamp is not None
        return phase == "Terminating" or deleting


def ensure_default_policy(api: k8s.ApiClient, document: dict[str, Any]) -> bool:
    """Create the policy unless one of its name exists; True when it was created now."""
    try:
        k8s.CustomObjectsApi(api).create_cluster_custom_object(
            GROUP, VERSION, egress_policy.PLURAL, document
        )
    except ApiException as exc:
        if exc.status == 409:
            return False
        raise DefaultPolicyError(
            f"cannot create the default {egress_policy.KIND} {document['metadata']['name']}: "
            f"HTTP {exc.status} {exc.reason}"
        ) from exc
    return True
