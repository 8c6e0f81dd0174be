"""The operator end to end: real control plane, real Temporal, its own RBAC and token."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.service import RPCError

from contactsync_operator import naming
from tests.corpus.manifests import example
from tests.e2e.conftest import EU, NAMESPACES, US
from tests.e2e.operator_env import (
    OWN_EGRESS_POLICY,
    OperatorRun,
    allow_secrets,
    argocd_health,
    contact_sync_status,
    create_egress_policy,
    kstatus_of,
    mark_pods_ready,
)
from tests.servers.kube import KubeControlPlane
from tests.servers.temporal import TemporalDevServer
from tests.support import eventually, kubectl

pytestmark = [pytest.mark.kube, pytest.mark.temporal]
RESYNC = 3.0


@pytest.fixture
async def temporal_clients(temporal: TemporalDevServer) -> dict[str, Client]:
    """Plain clients (no codec): enough to describe and list schedules."""
    return {
        region: await Client.connect(temporal.address, namespace=ns)
        for region, ns in NAMESPACES.items()
    }


def namespace_with_keys(api: k8s.ApiClient, labels: dict[str, str] | None = None) -> str:
    """A fresh namespace holding the multi-region example's payload-key Secrets."""
    namespace = f"e2e-{uuid.uuid4().hex[:8]}"
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace, labels=labels)))
    for secret in ("eu-contact-keys", "us-contact-keys"):
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        core.create_namespaced_secret(
            namespace,
            k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=secret), string_data={"k0001": key}),
        )
    return namespace


def deploy(
    plane: KubeControlPlane, api: k8s.ApiClient, name: str, **spec: Any
) -> tuple[str, dict[str, Any]]:
    """The multi-region example in a fresh namespace, with its key Secrets, under ``name``."""
    namespace = namespace_with_keys(api)
    document = example("multi-region")
    document["metadata"] = {"name": name, "namespace": namespace}
    document["spec"].update(spec)
    allow_secrets(api, document)
    apply(plane, document)
    return namespace, document


def apply(plane: KubeControlPlane, document: dict[str, Any]) -> None:
    kubectl(
        plane.admin_kubeconfig,
        "apply",
        "--server-side",
        "--filename=-",
        stdin=yaml.safe_dump(document),
    )


def deployments(api: k8s.ApiClient, namespace: str, name: str) -> list[k8s.V1Deployment]:
    return (
        k8s.AppsV1Api(api)
        .list_namespaced_deployment(namespace, label_selector=naming.children_selector(name))
        .items
    )


async def schedule_ids(clients: dict[str, Client], namespace: str, name: str) -> list[str]:
    prefix = naming.resource_prefix(namespace, name)
    found = []
    for client in clients.values():
        found += [s.id async for s in await client.list_schedules() if s.id.startswith(prefix)]
    return sorted(found)


async def test_regions_get_pinned_workers_and_schedules_as_declared(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
    temporal_clients: dict[str, Client],
) -> None:
    namespace, _ = deploy(kube_control_plane, kube_api, "global")
    core = k8s.CoreV1Api(kube_api)
    for region in (EU, US):
        selector = ",".join(f"{k}={v}" for k, v in naming.selector_labels("global", region).items())

        def bound(selector: str = selector) -> list[k8s.V1Pod] | None:
            pods = core.list_namespaced_pod(namespace, label_selector=selector).items
            return (
                pods if len(pods) == 2 and all(p.spec and p.spec.node_name for p in pods) else None
            )

        pods = eventually(bound, timeout=60, what=f"{region} worker pods to be scheduled")
        assert {p.spec.node_name for p in pods if p.spec} <= region_nodes[region]

        # The operator applies the Deployment before it creates the schedules: wait for them.
        schedule_id = naming.sync_schedule_id(namespace, "global", region)
        client = temporal_clients[region]

        async def present(c: Client = client, i: str = schedule_id) -> bool:
            return await _exists(c, i)

        await _eventually_async(present, what=f"{region} schedule")
        description = await client.get_schedule_handle(schedule_id).describe()
        spec = description.schedule.spec
        assert spec.jitter == timedelta(minutes=2)
        assert spec.time_zone_name == "Europe/Berlin"
        cron_or_calendar = spec.cron_expressions or [str(c) for c in spec.calendars]
        assert cron_or_calendar, "the cron expression is on the server"
        assert description.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
        action = description.schedule.action
        assert isinstance(action, ScheduleActionStartWorkflow)
        assert action.task_queue == naming.task_queue(namespace, "global", region)
        assert "encryption-key-id" in action.args[0].metadata


def test_worker_pod_template_passes_the_restricted_pod_security_level(
    operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace, _ = deploy(kube_control_plane, kube_api, "restricted")
    [deployment, *_] = eventually(
        lambda: deployments(kube_api, namespace, "restricted"), what="worker Deployments"
    )
    core = k8s.CoreV1Api(kube_api)
    strict = f"strict-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        k8s.V1Namespace(
            metadata=k8s.V1ObjectMeta(
                name=strict, labels={"pod-security.kubernetes.io/enforce": "restricted"}
            )
        )
    )
    template = kube_api.sanitize_for_serialization(deployment.spec.template)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": template["spec"],
    }
    pod["spec"]["serviceAccountName"] = "default"
    pod["spec"]["volumes"] = [v for v in pod["spec"]["volumes"] if "emptyDir" in v]
    mounted = {v["name"] for v in pod["spec"]["volumes"]}
    pod["spec"]["containers"][0]["volumeMounts"] = [
        m for m in pod["spec"]["containers"][0]["volumeMounts"] if m["name"] in mounted
    ]
    core.create_namespaced_pod(strict, pod, dry_run="All")  # type: ignore[arg-type]

    weakened = json.loads(json.dumps(pod))
    del weakened["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"]
    with pytest.raises(k8s.ApiException) as refused:
        core.create_namespaced_pod(strict, weakened, dry_run="All")
    assert "allowPrivilegeEscalation" in str(refused.value.body)


async def test_reapplying_changes_nothing_and_edits_change_only_what_they_touch(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal_clients: dict[str, Client],
) -> None:
    namespace, document = deploy(kube_control_plane, kube_api, "steady")
    eventually(
        lambda: contact_sync_status(kube_api, namespace, "steady").get("observedGeneration"),
        what="a status",
    )
    sync_id = naming.sync_schedule_id(namespace, "steady", EU)
    handle = temporal_clients[EU].get_schedule_handle(sync_id)
    apps = k8s.AppsV1Api(kube_api)

    def replica_sets() -> set[str]:
        return {
            rs.metadata.name
            for rs in apps.list_namespaced_replica_set(namespace).items
            if rs.metadata and rs.metadata.name
        }

    eventually(lambda: len(replica_sets()) == 2, what="one ReplicaSet per region")
    before_schedule = (await handle.describe()).info.last_updated_at
    before_sets = replica_sets()

    apply(kube_control_plane, document)  # the same spec again
    await asyncio.sleep(3 * RESYNC)  # several timer periods
    assert (await handle.describe()).info.last_updated_at == before_schedule, "no Temporal update"
    assert replica_sets() == before_sets, "no new ReplicaSet"

    document["spec"]["fields"] = ["fullName", "emails"]  # workers' config only
    apply(kube_control_plane, document)
    eventually(lambda: len(replica_sets()) == 4, what="workers rolled for a config change")
    await asyncio.sleep(2 * RESYNC)
    assert (await handle.describe()).info.last_updated_at == before_schedule, "schedule untouched"

    sets_after_fields = replica_sets()
    document["spec"]["schedule"]["jitter"] = "4m"  # the schedule only
    apply(kube_control_plane, document)

    async def jitter() -> timedelta | None:
        return (await handle.describe()).schedule.spec.jitter

    deadline = time.monotonic() + 30
    while await jitter() != timedelta(minutes=4):
        assert time.monotonic() < deadline, "schedule jitter not updated"
        await asyncio.sleep(0.5)
    await asyncio.sleep(RESYNC)
    assert replica_sets() == sets_after_fields, "a schedule edit restarts no worker"


async def test_schedule_or_deployment_deleted_by_hand_is_back_within_a_timer_period(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal_clients: dict[str, Client],
) -> None:
    namespace, _ = deploy(kube_control_plane, kube_api, "healing")
    sync_id = naming.sync_schedule_id(namespace, "healing", US)
    eventually(lambda: len(deployments(kube_api, namespace, "healing")) == 2, what="Deployments")
    await _eventually_async(lambda: _exists(temporal_clients[US], sync_id), what="schedule")

    name = naming.object_name("healing", US, "worker")
    k8s.AppsV1Api(kube_api).delete_namespaced_deployment(name, namespace)
    await temporal_clients[US].get_schedule_handle(sync_id).delete()
    started = time.monotonic()
    eventually(
        lambda: any(
            d.metadata and d.metadata.name == name
            for d in deployments(kube_api, namespace, "healing")
        ),
        timeout=2 * RESYNC + 10,
        what="the Deployment to come back",
    )
    await _eventually_async(
        lambda: _exists(temporal_clients[US], sync_id),
        within=2 * RESYNC + 10,
        what="the schedule to come back",
    )
    assert time.monotonic() - started < 2 * RESYNC + 10


async def test_schedule_paused_by_hand_stays_paused_after_an_unrelated_edit(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal_clients: dict[str, Client],
) -> None:
    namespace, document = deploy(kube_control_plane, kube_api, "paused")
    sync_id = naming.sync_schedule_id(namespace, "paused", EU)
    await _eventually_async(lambda: _exists(temporal_clients[EU], sync_id), what="schedule")
    handle = temporal_clients[EU].get_schedule_handle(sync_id)
    await handle.pause(note="paused by the on-call person")

    document["spec"]["schedule"]["cron"] = "*/30 * * * *"  # unrelated to pausing
    apply(kube_control_plane, document)

    async def updated() -> bool:
        description = await handle.describe()
        return "*/30" in str(
            description.schedule.spec.cron_expressions or description.schedule.spec.calendars
        ) or bool(
            description.schedule.spec.calendars
            and description.schedule.spec.calendars[0].minute[0].step == 30
        )

    await _eventually_async(updated, what="the cron edit to reach the schedule")
    state = (await handle.describe()).schedule.state
    assert state.paused
    assert state.note == "paused by the on-call person"


def test_kubectl_wait_for_ready_succeeds_once_workers_are_ready(
    operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace, _ = deploy(kube_control_plane, kube_api, "ready")
    selector = naming.children_selector("ready")
    eventually(lambda: mark_pods_ready(kube_api, namespace, selector) == 4, what="4 scheduled pods")
    output = kubectl(
        kube_control_plane.admin_kubeconfig,
        "wait",
        "--for=condition=Ready",
        "contactsync/ready",
        f"--namespace={namespace}",
        "--timeout=60s",
    )
    assert "condition met" in output
    current = contact_sync_status(kube_api, namespace, "ready")
    assert current["regionsReady"] == "2/2"
    assert [r["workers"]["ready"] for r in current["regions"]] == [2, 2]
    assert kstatus_of(kube_control_plane, namespace, "ready")["status"] == "Current"
    assert argocd_health(kube_control_plane, namespace, "ready")["status"] == "Healthy"


async def test_deleting_removes_schedules_and_children(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal_clients: dict[str, Client],
) -> None:
    namespace, _ = deploy(kube_control_plane, kube_api, "gone")
    await _eventually_async(
        lambda: _count(temporal_clients, namespace, "gone", 4), what="four schedules"
    )
    kubectl(
        kube_control_plane.admin_kubeconfig,
        "delete",
        "contactsync/gone",
        f"--namespace={namespace}",
        "--timeout=60s",
    )
    assert await schedule_ids(temporal_clients, namespace, "gone") == []


async def test_operator_killed_mid_reconcile_converges_without_duplicates(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal_clients: dict[str, Client],
) -> None:
    operator.kill()
    namespace, _ = deploy(kube_control_plane, kube_api, "crash")
    operator.start()
    # Kill it as soon as it has started acting on the resource: mid-reconcile.
    eventually(
        lambda: deployments(kube_api, namespace, "crash") or None, timeout=60, what="first child"
    )
    operator.kill()
    operator.start()
    eventually(lambda: len(deployments(kube_api, namespace, "crash")) == 2, what="both Deployments")
    await _eventually_async(
        lambda: _count(temporal_clients, namespace, "crash", 4), what="4 schedules"
    )
    await asyncio.sleep(2 * RESYNC)
    assert len(deployments(kube_api, namespace, "crash")) == 2
    assert len(await schedule_ids(temporal_clients, namespace, "crash")) == 4


async def test_deletion_with_temporal_down_waits_visibly_and_completes_when_it_returns(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
) -> None:
    namespace, _ = deploy(kube_control_plane, kube_api, "patient")
    eventually(
        lambda: contact_sync_status(kube_api, namespace, "patient").get("regionsReady"),
        what="status",
    )
    temporal.stop()
    try:
        kubectl(
            kube_control_plane.admin_kubeconfig,
            "delete",
            "contactsync/patient",
            f"--namespace={namespace}",
            "--wait=false",
        )

        def blocked() -> bool:
            conditions = contact_sync_status(kube_api, namespace, "patient").get("conditions", [])
            return any(
                c["type"] == "Degraded" and c["reason"] == "CleanupBlocked" for c in conditions
            )

        eventually(blocked, timeout=60, what="a CleanupBlocked condition")
        events = kubectl(
            kube_control_plane.admin_kubeconfig,
            "get",
            "events",
            f"--namespace={namespace}",
            "--field-selector=reason=CleanupBlocked",
            "-o",
            "name",
        )
        assert events.strip(), "a CleanupBlocked Event"
    finally:
        temporal.start()
    objects = k8s.CustomObjectsApi(kube_api)

    def gone() -> bool:
        try:
            objects.get_namespaced_custom_object(
                "contactsync.dev", "v1alpha1", namespace, "contactsyncs", "patient"
            )
        except k8s.ApiException as exc:
            return bool(exc.status == 404)
        return False

    eventually(gone, timeout=90, what="deletion to complete once Temporal is back")
    clients = {
        r: await Client.connect(temporal.address, namespace=ns) for r, ns in NAMESPACES.items()
    }
    assert await schedule_ids(clients, namespace, "patient") == []


def test_two_contactsyncs_whose_names_read_alike_get_their_own_children(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
) -> None:
    """ "global" in region eu-central-1 and "global-eu" in region central-1 once shared the
    names global-eu-central-1-worker, -config, ...: the second would have taken the first's."""
    namespace, document = deploy(kube_control_plane, kube_api, "global")
    other = dict(document, metadata={"name": "global-eu", "namespace": namespace})
    other["spec"] = {
        **document["spec"],
        "regions": [dict(document["spec"]["regions"][0], name="central-1")],
        "sources": [dict(s, region="central-1") for s in document["spec"]["sources"][:1]],
        "destinations": [dict(d, region="central-1") for d in document["spec"]["destinations"][:1]],
    }
    assert f"global-{EU}" == "global-eu-central-1", "the names read alike"
    allow_secrets(kube_api, other)
    apply(kube_control_plane, other)
    apps = k8s.AppsV1Api(kube_api)

    def both() -> list[str] | None:
        items = apps.list_namespaced_deployment(namespace).items
        names = sorted(str(d.metadata.name) for d in items if d.metadata)
        return names if len(names) >= 3 else None

    names = eventually(both, timeout=60, what="the workers of both ContactSyncs")
    assert naming.object_name("global", EU) in names
    assert naming.object_name("global-eu", "central-1") in names
    assert len(set(names)) == len(names)


def test_an_object_under_a_childs_name_that_it_does_not_own_is_left_alone(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
) -> None:
    namespace = namespace_with_keys(kube_api)
    core = k8s.CoreV1Api(kube_api)
    squatter = naming.object_name("taken", EU, "config")
    core.create_namespaced_config_map(
        namespace,
        k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=squatter), data={"mine": "keep"}),
    )
    document = example("multi-region")
    document["metadata"] = {"name": "taken", "namespace": namespace}
    allow_secrets(kube_api, document)
    apply(kube_control_plane, document)

    def refused() -> dict[str, Any] | None:
        conditions = contact_sync_status(kube_api, namespace, "taken").get("conditions", [])
        return next(
            (
                c
                for c in conditions
                if c["type"] == "Degraded" and "OwnedElsewhere" in (c.get("message") or "")
            ),
            None,
        )

    condition = eventually(refused, timeout=60, what="a Degraded condition naming the object")
    assert squatter in condition["message"]
    kept = core.read_namespaced_config_map(squatter, namespace)
    assert kept.data == {"mine": "keep"}
    assert kept.metadata is not None
    assert not kept.metadata.owner_references


def test_a_secret_not_labelled_for_the_contactsync_is_never_mounted(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
) -> None:
    """The author of a ContactSync may not have a Secret they cannot read sent to a server
    of their choosing: here a ServiceAccount token Secret named as CardDAV credentials."""
    namespace, document = deploy(kube_control_plane, kube_api, "fine")
    core = k8s.CoreV1Api(kube_api)
    core.create_namespaced_secret(
        namespace,
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(
                name="sa-token",
                annotations={"kubernetes.io/service-account.name": "default"},
                # Even labelled: a token is never a ContactSync's to send.
                labels={"contactsync.dev/use": "greedy"},
            ),
            type="kubernetes.io/service-account-token",
        ),
    )
    greedy = json.loads(json.dumps(document))
    greedy["metadata"] = {"name": "greedy", "namespace": namespace}
    source = greedy["spec"]["sources"][0]
    kind = next(k for k in ("carddav", "ldap", "csv", "jsonl") if k in source)
    source[kind]["credentialsSecretRef"] = {"name": "sa-token"}
    allow_secrets(kube_api, {**greedy, "spec": document["spec"]})  # everything else opted in
    apply(kube_control_plane, greedy)

    def refused() -> dict[str, Any] | None:
        conditions = contact_sync_status(kube_api, namespace, "greedy").get("conditions", [])
        return next((c for c in conditions if "SecretNotAllowed" in (c.get("message") or "")), None)

    condition = eventually(refused, timeout=60, what="the region refused for the token")
    assert "sa-token" in condition["message"]
    region = source["region"]
    assert not [
        d
        for d in deployments(kube_api, namespace, "greedy")
        if d.metadata and (d.metadata.labels or {}).get(naming.REGION_LABEL) == region
    ], "no worker of that region mounts anything"


def test_the_network_policy_opens_the_ports_the_database_dsns_name(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
) -> None:
    """PgBouncer on 6432, a second cluster on 6433: the workers may dial those, not 5432."""
    namespace = namespace_with_keys(kube_api)
    core = k8s.CoreV1Api(kube_api)
    databases = {
        "eu-store": {"dsn": "host=pgbouncer.eu.example port=6432 dbname=state user=u password=p"},
        "eu-phonebook": {"dsn": "postgresql://u:p@db.eu.example:6433/book"},
    }
    for name, data in databases.items():
        core.create_namespaced_secret(
            namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), string_data=data)
        )
    document = example("multi-region")
    document["metadata"] = {"name": "ports", "namespace": namespace}
    allow_secrets(kube_api, document)
    apply(kube_control_plane, document)
    networking = k8s.NetworkingV1Api(kube_api)
    policy_name = naming.object_name("ports", EU, "worker")

    def ports() -> set[int] | None:
        try:
            policy = networking.read_namespaced_network_policy(policy_name, namespace)
        except k8s.ApiException:
            return None
        assert policy.spec is not None
        return {
            int(p.port)
            for rule in policy.spec.egress or []
            for p in rule.ports or []
            if p.port is not None
        }

    opened = eventually(ports, timeout=60, what="the EU NetworkPolicy")
    assert {6432, 6433} <= opened
    assert 5432 not in opened


def own_egress_namespace(api: k8s.ApiClient) -> tuple[str, str]:
    """A namespace the session's open egress policy leaves alone, and a label value only it
    carries (``e2e-egress``), for a policy of its own to select."""
    marker = uuid.uuid4().hex[:8]
    labels = {OWN_EGRESS_POLICY: "true", "e2e-egress": marker}
    return namespace_with_keys(api, labels), marker


def test_the_network_policy_names_peers_from_the_egress_policy(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
) -> None:
    namespace, marker = own_egress_namespace(kube_api)
    policy = f"directory-{marker}"
    public = {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}
    directory = {"cidr": "198.51.100.7/32", "ports": [6636]}
    selector = {"matchLabels": {"e2e-egress": marker}}
    create_egress_policy(kube_api, policy, selector, [public, directory])
    document = example("multi-region")
    document["metadata"] = {"name": "peers", "namespace": namespace}
    allow_secrets(kube_api, document)
    apply(kube_control_plane, document)
    networking = k8s.NetworkingV1Api(kube_api)

    def egress() -> list[dict[str, Any]] | None:
        try:
            found = networking.read_namespaced_network_policy(
                naming.object_name("peers", EU, "worker"), namespace
            )
        except k8s.ApiException:
            return None
        rules: list[dict[str, Any]] = kube_api.sanitize_for_serialization(found)["spec"]["egress"]
        return rules

    dns, temporal, endpoints, ported = eventually(egress, timeout=60, what="the EU NetworkPolicy")
    assert "to" not in dns
    assert {p["port"] for p in dns["ports"]} == {53}
    # The operator's frontend is the platform's choice: its port, to any peer (no temporalPeers).
    assert temporal == {
        "ports": [{"protocol": "TCP", "port": int(operator.temporal_address.rsplit(":", 1)[1])}]
    }
    assert endpoints["to"] == [{"ipBlock": public}]
    assert {p["port"] for p in endpoints["ports"]} == {443, 636, 5432}
    assert ported == {
        "to": [{"ipBlock": {"cidr": "198.51.100.7/32"}}],
        "ports": [{"protocol": "TCP", "port": 6636}],
    }
    config_map = k8s.CoreV1Api(kube_api).read_namespaced_config_map(
        naming.object_name("peers", EU, "config"), namespace
    )
    told = json.loads((config_map.data or {})["region.json"])["egress"]
    assert told["policies"] == [policy]
    assert told["allow"][0]["except"] == ["192.0.2.128/25"]


def test_a_namespace_no_egress_policy_selects_gets_no_workers_until_one_does(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    region_nodes: dict[str, set[str]],
) -> None:
    namespace, marker = own_egress_namespace(kube_api)
    document = example("multi-region")
    document["metadata"] = {"name": "fenced", "namespace": namespace}
    allow_secrets(kube_api, document)
    apply(kube_control_plane, document)

    def degraded() -> dict[str, Any] | None:
        conditions = contact_sync_status(kube_api, namespace, "fenced").get("conditions", [])
        return next(
            (c for c in conditions if c["type"] == "Degraded" and c["status"] == "True"), None
        )

    condition = eventually(degraded, timeout=60, what="a Degraded condition")
    assert condition["reason"] == "EgressNotAllowed"
    assert f"no ContactSyncEgressPolicy selects namespace {namespace}" in condition["message"]
    assert "platform admin must create one" in condition["message"]
    assert deployments(kube_api, namespace, "fenced") == []

    create_egress_policy(
        kube_api, f"fenced-{marker}", {"matchLabels": {"e2e-egress": marker}}, [{"cidr": "::/0"}]
    )
    eventually(
        lambda: len(deployments(kube_api, namespace, "fenced")) == 2,
        timeout=2 * RESYNC + 30,
        what="workers once a policy selects the namespace",
    )


def test_operator_runs_as_its_service_account(operator: OperatorRun) -> None:
    whoami = kubectl(
        operator.kubeconfig, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"
    )
    assert whoami == "system:serviceaccount:contactsync-system:contactsync"
    assert "Traceback" not in operator.log()
    assert os.environ.get("KUBECONFIG") != str(operator.kubeconfig)


async def _exists(client: Client, schedule_id: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id).describe()
    except RPCError:
        return False
    return True


async def _count(clients: dict[str, Client], namespace: str, name: str, expected: int) -> bool:
    return len(await schedule_ids(clients, namespace, name)) == expected


async def _eventually_async(
    probe: Callable[[], Awaitable[bool]], *, within: float = 60, what: str
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"timed out after {within}s waiting for {what}")
