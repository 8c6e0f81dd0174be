"""The Kubernetes objects that run one region's workers, as server-side-apply manifests.

Pure functions of the resource and the operator settings. Every object carries
an owner reference to the ContactSync (so Kubernetes garbage-collects it) and
a hash of its own content (so the planner can skip objects that are current).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from contactsync_api import runtime
from contactsync_api.egress import RegionEgress
from contactsync_api.manifest import ContactSync
from contactsync_api.spec import RegionSpec
from contactsync_operator import naming
from contactsync_operator.egress_rules import egress_rules
from contactsync_operator.observed import WorkerKeys
from contactsync_operator.regionconfig import (
    endpoints,
    referenced_secrets,
    region_config,
)
from contactsync_operator.settings import OperatorSettings

Manifest = dict[str, Any]
HASH_ANNOTATION = "contactsync.dev/applied-hash"
CONFIG_HASH_ANNOTATION = "contactsync.dev/config-hash"
# On a region's Deployment: what purging the region needs once the spec no longer names it.
KEYS_SECRET_ANNOTATION = "contactsync.dev/keys-secret"  # noqa: S105 - an annotation key
TEMPORAL_NAMESPACE_ANNOTATION = "contactsync.dev/temporal-namespace"
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}
_USER_ID = 10001


def content_hash(manifest: Manifest) -> str:
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def _stamped(manifest: Manifest) -> Manifest:
    manifest["metadata"].setdefault("annotations", {})[HASH_ANNOTATION] = content_hash(manifest)
    return manifest


def _metadata(resource: ContactSync, region: str, kind_suffix: str) -> dict[str, Any]:
    return {
        "name": naming.object_name(resource.name, region, kind_suffix),
        "namespace": resource.namespace,
        "labels": naming.child_labels(resource.name, region),
        "ownerReferences": [
            {
                "apiVersion": "contactsync.dev/v1alpha1",
                "kind": "ContactSync",
                "name": resource.name,
                "uid": resource.uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }


def worker_objects(
    resource: ContactSync,
    region: RegionSpec,
    settings: OperatorSettings,
    database_ports: tuple[int, ...] = (),
    keys: WorkerKeys | None = None,
    egress: RegionEgress | None = None,
) -> list[Manifest]:
    """ServiceAccount, ConfigMap, Deployment, PodDisruptionBudget and NetworkPolicy of a region.

    ``keys``: what the workers get of the region's keys Secret, as the operator read it; the
    reconciler always passes it (without it the whole Secret would be mounted). ``egress``:
    what the platform's egress policies allow the region (None: not restricted)."""
    config_map = _config_map(resource, region.name, keys, egress)
    claim = [_stamped(_state_claim(resource, region.name, settings))]
    return [
        *(claim if keeps_local_state(region) else []),
        _stamped(_service_account(resource, region.name)),
        _stamped(config_map),
        _stamped(_deployment(resource, region, settings, content_hash(config_map), keys)),
        _stamped(_disruption_budget(resource, region.name)),
        _stamped(_network_policy(resource, region, settings, database_ports, egress)),
    ]


def keeps_local_state(region: RegionSpec) -> bool:
    """Without PostgreSQL a region's one worker keeps its state (and audit trail) in SQLite on
    a volume of its own, which must outlive the pod: a PersistentVolumeClaim, never emptyDir."""
    return region.store is None or region.store.postgres is None


def _state_claim(resource: ContactSync, region: str, settings: OperatorSettings) -> Manifest:
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": settings.state_volume_size}},
    }
    if settings.state_storage_class:
        spec["storageClassName"] = settings.state_storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(resource, region, "state"),
        "spec": spec,
    }


def _service_account(resource: ContactSync, region: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(resource, region, "worker"),
        # Workers never call the Kubernetes API: no token in the pod at all.
        "automountServiceAccountToken": False,
    }


def _config_map(
    resource: ContactSync, region: str, keys: WorkerKeys | None, egress: RegionEgress | None
) -> Manifest:
    public_key = keys.requests_public_key if keys else None
    config = (
        region_config(resource, region, egress)
        .model_copy(update={"requests_public_key": public_key})
        .model_dump(mode="json", by_alias=True, exclude_none=True)
    )
    document = json.dumps(config, indent=2, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(resource, region, "config"),
        "data": {runtime.CONFIG_FILE_NAME: document},
    }


def _deployment(
    resource: ContactSync,
    region: RegionSpec,
    settings: OperatorSettings,
    config_hash: str,
    keys: WorkerKeys | None,
) -> Manifest:
    name = resource.name
    selector = naming.selector_labels(name, region.name)
    volumes, mounts, env = _wiring(resource, region, settings, keys)
    resources = region.workers.resources.model_dump(exclude_none=True) or DEFAULT_RESOURCES
    container = {
        "name": "worker",
        "image": settings.worker_image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["contactsync", "worker"],
        "env": env,
        "ports": [{"name": "metrics", "containerPort": runtime.METRICS_PORT, "protocol": "TCP"}],
        "resources": resources,
        "volumeMounts": mounts,
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": "metrics"},
            "periodSeconds": 10,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": "metrics"},
            "periodSeconds": 20,
            "failureThreshold": 3,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    pod_spec = {
        "serviceAccountName": naming.object_name(name, region.name, "worker"),
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _USER_ID,
            "runAsGroup": _USER_ID,
            "fsGroup": _USER_ID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": settings.region_label,
                                    "operator": "In",
                                    "values": [region.name],
                                }
                            ]
                        }
                    ]
                }
            }
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": settings.zone_label,
                # Spread where zones exist; a single-zone region still runs.
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector},
            }
        ],
        # Workers finish the activity at hand on SIGTERM before they exit.
        "terminationGracePeriodSeconds": 60,
        "containers": [container],
        "volumes": volumes,
    }
    metadata = _metadata(resource, region.name, "worker")
    metadata["annotations"] = {TEMPORAL_NAMESPACE_ANNOTATION: settings.temporal_namespace(region)}
    if region.encryption is not None:
        metadata["annotations"][KEYS_SECRET_ANNOTATION] = region.encryption.keys_secret_ref.name
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": region.workers.replicas,
            # A ReadWriteOnce state volume cannot serve the old and the new pod at once.
            "strategy": {"type": "Recreate" if keeps_local_state(region) else "RollingUpdate"},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": naming.child_labels(name, region.name),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
                },
                "spec": pod_spec,
            },
        },
    }


def _wiring(
    resource: ContactSync, region: RegionSpec, settings: OperatorSettings, keys: WorkerKeys | None
) -> tuple[list[Manifest], list[Manifest], list[Manifest]]:
    """Volumes, mounts and environment: everything secret arrives as a file, by reference."""
    temporal = region.temporal
    scratch = sum(endpoint.tmp_bytes for endpoint in endpoints(resource, region.name))
    volumes: list[Manifest] = [
        {
            "name": "config",
            "configMap": {"name": naming.object_name(resource.name, region.name, "config")},
        },
        {"name": "tmp", "emptyDir": {"sizeLimit": runtime.tmp_size_limit(scratch)}},
        (
            {
                "name": "state",
                "persistentVolumeClaim": {
                    "claimName": naming.object_name(resource.name, region.name, "state")
                },
            }
            if keeps_local_state(region)
            else {"name": "state", "emptyDir": {"sizeLimit": "64Mi"}}
        ),
    ]
    mounts: list[Manifest] = [
        {"name": "config", "mountPath": str(runtime.CONFIG_DIR), "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - the pod's own emptyDir
        {"name": "state", "mountPath": str(runtime.STATE_DIR)},
    ]
    env: list[Manifest] = [
        {"name": runtime.ENV_REGION, "value": region.name},
        {"name": runtime.ENV_CONTACT_SYNC, "value": f"{resource.namespace}/{resource.name}"},
        {
            "name": runtime.ENV_TASK_QUEUE,
            "value": naming.task_queue(resource.namespace, resource.name, region.name),
        },
        {
            "name": runtime.ENV_CONFIG_FILE,
            "value": str(runtime.CONFIG_DIR / runtime.CONFIG_FILE_NAME),
        },
        {"name": runtime.ENV_SECRETS_DIR, "value": str(runtime.SECRETS_DIR)},
        {"name": runtime.ENV_STATE_DIR, "value": str(runtime.STATE_DIR)},
        {"name": runtime.ENV_METRICS_PORT, "value": str(runtime.METRICS_PORT)},
        {
            "name": runtime.ENV_TEMPORAL_ADDRESS,
            "value": worker_temporal_address(region, settings),
        },
        {
            "name": runtime.ENV_TEMPORAL_NAMESPACE,
            "value": (
                temporal.namespace
                if temporal and temporal.namespace
                else settings.temporal.namespace
            ),
        },
    ]
    if region.encryption is not None:
        keys_volume: Manifest = {"secretName": region.encryption.keys_secret_ref.name}
        if keys is not None:
            # Every entry by name but the request key: workers verify purges, never sign them.
            # A key added to the Secret is mounted by the next reconcile (and rolls the pods).
            keys_volume["items"] = [{"key": item, "path": item} for item in keys.items]
        volumes.append({"name": "keys", "secret": keys_volume})
        mounts.append({"name": "keys", "mountPath": str(runtime.KEYS_DIR), "readOnly": True})
        env.append({"name": runtime.ENV_KEYS_DIR, "value": str(runtime.KEYS_DIR)})
    tls_secret = temporal.tls_secret_ref.name if temporal and temporal.tls_secret_ref else None
    tls_secret = tls_secret or settings.worker_temporal_tls_secret
    if tls_secret:
        volumes.append({"name": "temporal-tls", "secret": {"secretName": tls_secret}})
        mounts.append(
            {"name": "temporal-tls", "mountPath": str(runtime.TEMPORAL_TLS_DIR), "readOnly": True}
        )
        env.append({"name": runtime.ENV_TEMPORAL_TLS_DIR, "value": str(runtime.TEMPORAL_TLS_DIR)})
    if temporal and temporal.api_key_secret_ref:
        ref = temporal.api_key_secret_ref
        volumes.append(
            {
                "name": "temporal-api-key",
                "secret": {"secretName": ref.name, "items": [{"key": ref.key, "path": "api-key"}]},
            }
        )
        mounts.append(
            {
                "name": "temporal-api-key",
                "mountPath": str(runtime.TEMPORAL_API_KEY_DIR),
                "readOnly": True,
            }
        )
        env.append(
            {
                "name": runtime.ENV_TEMPORAL_API_KEY_FILE,
                "value": str(runtime.TEMPORAL_API_KEY_DIR / "api-key"),
            }
        )
    # Without TLS or a key the worker refuses to start, unless plain text was chosen.
    keyless = not tls_secret and not (temporal and temporal.api_key_secret_ref)
    if keyless and settings.temporal.plaintext:
        env.append({"name": runtime.ENV_TEMPORAL_PLAINTEXT, "value": "true"})
    for index, secret in enumerate(referenced_secrets(resource, region.name)):
        volume = f"ref-{index}"
        volumes.append({"name": volume, "secret": {"secretName": secret}})
        mount = runtime.secret_dir(runtime.SECRETS_DIR, secret)
        mounts.append({"name": volume, "mountPath": str(mount), "readOnly": True})
    return volumes, mounts, env


def _disruption_budget(resource: ContactSync, region: str) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(resource, region, "worker"),
        "spec": {
            # Temporal retries whatever an evicted worker was doing; one at a time keeps progress.
            "maxUnavailable": 1,
            "selector": {"matchLabels": naming.selector_labels(resource.name, region)},
        },
    }


def worker_temporal_address(region: RegionSpec, settings: OperatorSettings) -> str:
    """host:port of the Temporal frontend a region's workers dial."""
    temporal = region.temporal
    return temporal.address if temporal and temporal.address else settings.worker_temporal


def egress_ports(
    resource: ContactSync,
    region: str,
    settings: OperatorSettings,
    database_ports: tuple[int, ...] = (),
) -> list[int]:
    """TCP ports the region's workers dial: its endpoints, Temporal, its databases (the ports
    their connection strings name, read by the operator; 5432 when it could not) and
    configured extras."""
    declared = next(r for r in resource.spec.regions if r.name == region)
    # The Temporal the region's workers dial: the region's own frontend when it names one.
    temporal = int(worker_temporal_address(declared, settings).rsplit(":", 1)[-1])
    return sorted({*endpoint_ports(resource, region, settings, database_ports), temporal})


def endpoint_ports(
    resource: ContactSync,
    region: str,
    settings: OperatorSettings,
    database_ports: tuple[int, ...] = (),
) -> list[int]:
    """The ports of :func:`egress_ports` that servers the manifest names listen on (a Temporal
    frontend the region names too), and the platform's extras: the egress policy's peers."""
    ports: set[int] = set()
    for endpoint in endpoints(resource, region):
        # The ports the operator read from a connection string's Secret, where it could.
        from_secret = bool(database_ports) and endpoint.port_secret_ref() is not None
        ports.update(database_ports if from_secret else endpoint.ports())
    temporal = next(r for r in resource.spec.regions if r.name == region).temporal
    if temporal and temporal.address:
        ports.add(int(temporal.address.rsplit(":", 1)[-1]))
    ports.update(settings.egress_ports)
    return sorted(ports)


def _network_policy(
    resource: ContactSync,
    declared: RegionSpec,
    settings: OperatorSettings,
    database_ports: tuple[int, ...],
    egress: RegionEgress | None,
) -> Manifest:
    region = declared.name
    own_frontend = declared.temporal is not None and declared.temporal.address is not None
    egress_spec = egress_rules(
        egress,
        endpoint_ports(resource, region, settings, database_ports),
        None if own_frontend else int(settings.worker_temporal.rsplit(":", 1)[-1]),
        settings.worker_temporal_peers,
    )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(resource, region, "worker"),
        "spec": {
            "podSelector": {"matchLabels": naming.selector_labels(resource.name, region)},
            "policyTypes": ["Ingress", "Egress"],
            # Only Prometheus scrapes reach a worker; it serves nothing else.
            "ingress": [{"ports": [{"protocol": "TCP", "port": runtime.METRICS_PORT}]}],
            "egress": egress_spec,
        },
    }
