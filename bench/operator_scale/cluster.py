"""The benchmark's world: the test control plane (audit log on), a Temporal dev server, the
operator's identity from the chart, an egress policy, and the fleet's namespaces and Secrets.

Everything is started with the test suite's helpers (tests/servers/, tests/e2e/operator_env.py)
and lives in one work directory. The cluster has no Node: worker pods stay Pending.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from temporalio.client import Client
from tests.e2e.operator_env import (
    OPERATOR_NAMESPACE,
    create_egress_policy,
    install_operator_identity,
)
from tests.servers import toolchain
from tests.servers.control_fixtures import established_crd
from tests.servers.kube import KubeControlPlane
from tests.servers.temporal import TemporalDevServer
from tests.support import kubectl

from bench.operator_scale import audit
from bench.operator_scale.fleet import NAMESPACE_LABEL, Fleet
from contactsync_api.spec import GROUP, PLURAL, VERSION
from contactsync_operator import naming

# The kinds the operator makes per region here: no PersistentVolumeClaim, as the regions keep
# their state in PostgreSQL.
CHILD_KINDS = ("ServiceAccount", "ConfigMap", "Deployment", "PodDisruptionBudget", "NetworkPolicy")


def _listed(api: k8s.ApiClient, kind: str, selector: str) -> int:
    """How many objects of ``kind`` match ``selector``, across the cluster."""
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    policy, networking = k8s.PolicyV1Api(api), k8s.NetworkingV1Api(api)
    listing: Any = {
        "ServiceAccount": core.list_service_account_for_all_namespaces,
        "ConfigMap": core.list_config_map_for_all_namespaces,
        "Deployment": apps.list_deployment_for_all_namespaces,
        "PodDisruptionBudget": policy.list_pod_disruption_budget_for_all_namespaces,
        "NetworkPolicy": networking.list_network_policy_for_all_namespaces,
    }[kind]
    return len(listing(label_selector=selector).items)


@dataclass
class World:
    plane: KubeControlPlane
    temporal: TemporalDevServer
    api: k8s.ApiClient  # cluster-admin, for the benchmark's own set-up and reading
    operator_kubeconfig: Path  # the operator ServiceAccount's token only
    operator_user: str  # its user name, as the audit log records it
    audit_log: Path

    def contact_syncs(self) -> list[dict[str, Any]]:
        objects = k8s.CustomObjectsApi(self.api)
        listed = cast(dict[str, Any], objects.list_cluster_custom_object(GROUP, VERSION, PLURAL))
        return cast(list[dict[str, Any]], listed["items"])

    def children(self) -> dict[str, int]:
        """How many of each kind of child exist, across the cluster."""
        selector = f"app.kubernetes.io/managed-by={naming.MANAGER}"
        return {kind: _listed(self.api, kind, selector) for kind in CHILD_KINDS}

    def schedules(self, fleet: Fleet) -> int:
        """How many ContactSync schedules exist, over the fleet's Temporal namespaces."""

        async def count() -> int:
            total = 0
            for region in fleet.region_names:
                namespace = fleet.temporal_namespace(region)
                client = await Client.connect(self.temporal.address, namespace=namespace)
                async for entry in await client.list_schedules():
                    total += entry.id.startswith(f"{naming.PREFIX}/")
            return total

        return asyncio.run(count())


def _write_audit_policy(workdir: Path) -> tuple[Path, Path]:
    group = f"system:serviceaccounts:{OPERATOR_NAMESPACE}"
    policy = workdir / "audit-policy.yaml"
    policy.write_text(yaml.safe_dump(audit.policy(group)))
    return policy, workdir / "audit.log"


@contextmanager
def running_world(workdir: Path, fleet: Fleet) -> Iterator[World]:
    policy, log = _write_audit_policy(workdir)
    plane = KubeControlPlane(
        workdir / "kube",
        apiserver_args=(
            f"--audit-policy-file={policy}",
            f"--audit-log-path={log}",
            "--audit-log-format=json",
        ),
    )
    temporal = TemporalDevServer(
        workdir / "temporal",
        namespaces=tuple(fleet.temporal_namespace(r) for r in fleet.region_names),
    )
    with ExitStack() as stack:
        stack.callback(plane.stop)
        plane.start()
        stack.callback(temporal.stop)
        temporal.start()
        api = k8s_config.new_client_from_config(config_file=str(plane.admin_kubeconfig))
        stack.callback(api.close)
        established_crd(plane, "contactsync.yaml", "contactsyncs.contactsync.dev")
        established_crd(
            plane, "contactsyncegresspolicy.yaml", "contactsyncegresspolicies.contactsync.dev"
        )
        helm = toolchain.built_binary("helm", toolchain.HELM_VERSION)
        kubeconfig, account = install_operator_identity(plane, api, helm, workdir)
        # The platform admin's part: workers of every namespace may reach every address.
        create_egress_policy(api, "bench-everywhere", {}, [{"cidr": "0.0.0.0/0"}])
        yield World(
            plane,
            temporal,
            api,
            kubeconfig,
            f"system:serviceaccount:{OPERATOR_NAMESPACE}:{account}",
            log,
        )


def create_namespaces_and_secrets(world: World, fleet: Fleet) -> None:
    """What the teams do before their ContactSyncs: namespaces, and Secrets opted in."""
    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {NAMESPACE_LABEL: "true"}},
        }
        for name in fleet.namespaces
    ]
    _apply(world, namespaces)
    _apply(world, [s for name in fleet.namespaces for s in fleet.secrets(name)])


def apply_contact_syncs(world: World, fleet: Fleet) -> None:
    """All ContactSyncs in one ``kubectl apply --server-side``, as a GitOps sync does."""
    _apply(world, fleet.contact_syncs())


def _apply(world: World, documents: list[dict[str, Any]]) -> None:
    stream = yaml.safe_dump_all(documents)
    kubectl(world.plane.admin_kubeconfig, "apply", "--server-side", "--filename=-", stdin=stream)
