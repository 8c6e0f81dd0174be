"""How platform teams run the operator: peered replicas, probes and metrics, watched
namespaces, regions served by another cluster, and problems a user must act on."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from contactsync_operator import naming
from tests.corpus.manifests import example
from tests.e2e.conftest import EU, US
from tests.e2e.operator_env import (
    OperatorRun,
    allow_secrets,
    argocd_health,
    contact_sync_status,
    kstatus_of,
    render_chart,
)
from tests.servers.kube import KubeControlPlane
from tests.servers.process import free_port
from tests.servers.temporal import TemporalDevServer
from tests.support import eventually, kubectl

pytestmark = [pytest.mark.kube, pytest.mark.temporal]


def namespace_with_keys(api: k8s.ApiClient, keys: bool = True) -> str:
    namespace = f"modes-{uuid.uuid4().hex[:8]}"
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    if keys:
        add_keys(api, namespace)
    return namespace


def add_keys(api: k8s.ApiClient, namespace: str) -> None:
    for secret in ("eu-contact-keys", "us-contact-keys"):
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        k8s.CoreV1Api(api).create_namespaced_secret(
            namespace,
            k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=secret), string_data={"k0001": key}),
        )


def apply_example(
    plane: KubeControlPlane, namespace: str, name: str, **spec: Any
) -> dict[str, Any]:
    document = example("multi-region")
    document["metadata"] = {"name": name, "namespace": namespace}
    document["spec"].update(spec)
    with k8s_config.new_client_from_config(config_file=str(plane.admin_kubeconfig)) as api:
        allow_secrets(api, document)
    kubectl(
        plane.admin_kubeconfig,
        "apply",
        "--server-side",
        "--filename=-",
        stdin=yaml.safe_dump(document),
    )
    return document


def condition(api: k8s.ApiClient, namespace: str, name: str, kind: str) -> dict[str, Any]:
    return next(
        (
            c
            for c in contact_sync_status(api, namespace, name).get("conditions", [])
            if c["type"] == kind
        ),
        {},
    )


@pytest.fixture
def scoped_operator(
    operator_kubeconfig: Path,
    temporal: TemporalDevServer,
    region_nodes: dict[str, set[str]],
    tmp_path: Path,
) -> Iterator[OperatorRun]:
    """An operator not yet started; each test configures it. Stopped at the end."""
    run = OperatorRun(operator_kubeconfig, temporal.address, tmp_path, resync_seconds=2.0)
    try:
        yield run
    finally:
        run.stop()


def test_operator_watches_only_its_namespaces(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    watched, ignored = namespace_with_keys(kube_api), namespace_with_keys(kube_api)
    scoped_operator.extra_env["CONTACTSYNC_WATCH_NAMESPACES"] = watched
    scoped_operator.start()
    apply_example(kube_control_plane, watched, "seen")
    apply_example(kube_control_plane, ignored, "unseen")
    eventually(
        lambda: contact_sync_status(kube_api, watched, "seen").get("observedGeneration"),
        what="status",
    )
    unseen = contact_sync_status(kube_api, ignored, "unseen")
    assert unseen == {"observedGeneration": 0, "conditions": [], "regions": []}, "defaults only"
    assert k8s.AppsV1Api(kube_api).list_namespaced_deployment(ignored).items == []
    # Flux and kpt must not take a resource nobody reconciled for a healthy one.
    assert kstatus_of(kube_control_plane, ignored, "unseen")["status"] == "InProgress"
    assert argocd_health(kube_control_plane, ignored, "unseen")["status"] == "Progressing"


def test_region_served_elsewhere_is_reported_not_deployed(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace = namespace_with_keys(kube_api)
    scoped_operator.extra_env |= {
        "CONTACTSYNC_WATCH_NAMESPACES": namespace,
        "CONTACTSYNC_SERVED_REGIONS": EU,
    }
    scoped_operator.start()
    apply_example(kube_control_plane, namespace, "split")
    regions = eventually(
        lambda: contact_sync_status(kube_api, namespace, "split").get("regions"),
        what="region status",
    )
    assert [(r["name"], r["servedHere"]) for r in regions] == [(EU, True), (US, False)]
    names = {
        d.metadata.name
        for d in k8s.AppsV1Api(kube_api).list_namespaced_deployment(namespace).items
        if d.metadata
    }
    assert names == {naming.object_name("split", EU, "worker")}


def test_missing_keys_are_a_visible_problem_that_heals(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace = namespace_with_keys(kube_api, keys=False)
    scoped_operator.extra_env["CONTACTSYNC_WATCH_NAMESPACES"] = namespace
    scoped_operator.start()
    document = apply_example(kube_control_plane, namespace, "keyless")
    degraded = eventually(
        lambda: (
            condition(kube_api, namespace, "keyless", "Degraded").get("status") == "True"
            and condition(kube_api, namespace, "keyless", "Degraded")
        ),
        what="a Degraded condition",
    )
    assert degraded["reason"] == "EncryptionKeysMissing"
    assert "eu-contact-keys" in degraded["message"]
    # A GitOps tool stops waiting and says why: kstatus reads Stalled as Failed.
    verdict = kstatus_of(kube_control_plane, namespace, "keyless")
    assert verdict["status"] == "Failed"
    assert "eu-contact-keys" in verdict["message"]
    health = argocd_health(kube_control_plane, namespace, "keyless")
    assert health["status"] == "Degraded"
    assert "eu-contact-keys" in health["message"]
    events = kubectl(
        kube_control_plane.admin_kubeconfig,
        "get",
        "events",
        f"--namespace={namespace}",
        "--field-selector=reason=EncryptionKeysMissing",
        "-o",
        "jsonpath={.items[*].type}",
    )
    assert "Warning" in events
    add_keys(kube_api, namespace)
    allow_secrets(kube_api, document)  # the keys' owner opts them in for this ContactSync
    eventually(
        lambda: condition(kube_api, namespace, "keyless", "Degraded").get("status") == "False",
        what="the problem to clear once the Secrets exist",
    )
    # No worker pods run on this control plane: still getting there, no longer stuck.
    assert kstatus_of(kube_control_plane, namespace, "keyless")["status"] == "InProgress"
    assert argocd_health(kube_control_plane, namespace, "keyless")["status"] == "Progressing"


def test_removed_region_loses_its_workers(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace = namespace_with_keys(kube_api)
    scoped_operator.extra_env["CONTACTSYNC_WATCH_NAMESPACES"] = namespace
    scoped_operator.start()
    document = apply_example(kube_control_plane, namespace, "shrink")
    apps = k8s.AppsV1Api(kube_api)
    eventually(lambda: len(apps.list_namespaced_deployment(namespace).items) == 2, what="2 regions")
    spec = document["spec"]
    spec["regions"] = [r for r in spec["regions"] if r["name"] == EU]
    spec["sources"] = [s for s in spec["sources"] if s["region"] == EU]
    spec["destinations"] = [d for d in spec["destinations"] if d["region"] == EU]
    kubectl(
        kube_control_plane.admin_kubeconfig,
        "apply",
        "--server-side",
        "--filename=-",
        stdin=yaml.safe_dump(document),
    )
    eventually(lambda: len(apps.list_namespaced_deployment(namespace).items) == 1, what="1 region")
    regions = eventually(
        lambda: (
            [
                r["name"]
                for r in contact_sync_status(kube_api, namespace, "shrink").get("regions", [])
            ]
            == [EU]
        ),
        what="status of one region",
    )
    assert regions


def test_probes_metrics_and_json_logs(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace = namespace_with_keys(kube_api)
    liveness = free_port()
    scoped_operator.extra_env["CONTACTSYNC_WATCH_NAMESPACES"] = namespace
    scoped_operator.args = ("--standalone", f"--liveness=http://127.0.0.1:{liveness}/healthz")
    scoped_operator.start()
    apply_example(kube_control_plane, namespace, "observed")
    eventually(
        lambda: contact_sync_status(kube_api, namespace, "observed").get("observedGeneration"),
        what="status",
    )
    assert httpx.get(f"http://127.0.0.1:{liveness}/healthz", timeout=5).status_code == 200
    metrics = httpx.get(f"http://127.0.0.1:{scoped_operator.metrics_port}/metrics", timeout=5).text
    assert 'contactsync_operator_reconciles_total{outcome="ok"}' in metrics
    assert "contactsync_operator_reconcile_seconds_count" in metrics
    # Each ContactSync as its status says, by its namespace and name: what the alerts read.
    who = f'name="observed",namespace="{namespace}"'
    assert f"contactsync_operator_ready{{{who}}}" in metrics
    assert f"contactsync_operator_workers_desired{{{who},region=" in metrics
    lines = [line for line in scoped_operator.log().splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"message", "severity", "timestamp"} <= set(record)


def test_two_peered_replicas_elect_one_active(
    operator_kubeconfig: Path,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    helm_binary: Path,
    temporal: TemporalDevServer,
    region_nodes: dict[str, set[str]],
    tmp_path: Path,
) -> None:
    install_peering_crds(kube_control_plane, helm_binary)
    replicas = [
        OperatorRun(operator_kubeconfig, temporal.address, tmp_path, name=f"replica-{n}", args=())
        for n in range(2)
    ]

    def leading(replica: OperatorRun) -> bool:
        """Kopf logs each change of its peering state; the last one says where it stands."""
        log = replica.log()
        return log.rfind("Resuming operations") > log.rfind("Pausing operations")

    try:
        for replica in replicas:
            replica.start()

        def single_leader() -> list[OperatorRun] | None:
            leaders = [r for r in replicas if leading(r)]
            return leaders if len(leaders) == 1 else None

        eventually(single_leader, timeout=60, what="exactly one replica to lead")
        namespace = namespace_with_keys(kube_api)
        apply_example(kube_control_plane, namespace, "peered")
        eventually(
            lambda: contact_sync_status(kube_api, namespace, "peered").get("observedGeneration"),
            what="status",
        )
        # Which replica leads can change once while they discover each other; the one that
        # handled the resource is the leader, and only one may have handled it.
        [active] = [r for r in replicas if '"name": "peered"' in r.log()]
        standby = next(r for r in replicas if r is not active)
        assert leading(active)
        assert not leading(standby), "the standby stays paused while the leader lives"

        active.stop()  # a graceful stop leaves the peering at once
        eventually(lambda: leading(standby), timeout=60, what="the standby to take over")
        apply_example(kube_control_plane, namespace, "after-failover")
        eventually(
            lambda: contact_sync_status(kube_api, namespace, "after-failover").get(
                "observedGeneration"
            ),
            what="the new leader to reconcile",
        )
    finally:
        for replica in replicas:
            replica.stop()


def install_peering_crds(plane: KubeControlPlane, helm: Path) -> None:
    objects = render_chart(helm, "crd-kopf-peering.yaml")
    for manifest in objects:
        # Release labels are Helm's to own; the chart's own tests install it later.
        manifest["metadata"].pop("labels", None)
    admin = plane.admin_kubeconfig
    kubectl(admin, "apply", "--server-side", "--filename=-", stdin=yaml.safe_dump_all(objects))
    kubectl(admin, "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev")


def test_one_replica_as_the_chart_runs_it_makes_its_peering_object_and_reconciles(
    operator_kubeconfig: Path,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    helm_binary: Path,
    temporal: TemporalDevServer,
    region_nodes: dict[str, set[str]],
    tmp_path: Path,
) -> None:
    """replicaCount=1: the arguments the chart gives, and no peering object beforehand."""
    install_peering_crds(kube_control_plane, helm_binary)
    admin = kube_control_plane.admin_kubeconfig
    kubectl(admin, "delete", "clusterkopfpeering", "contactsync", "--ignore-not-found")
    [deployment] = render_chart(helm_binary, "deployment.yaml", values=("--set=replicaCount=1",))
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    # The liveness endpoint binds a port; elsewhere on this machine, any free one.
    args = [a for a in args if not a.startswith("--liveness")]
    single = OperatorRun(
        operator_kubeconfig, temporal.address, tmp_path, name="single", args=tuple(args)
    )
    try:
        single.start()
        namespace = namespace_with_keys(kube_api)
        apply_example(kube_control_plane, namespace, "single")
        eventually(
            lambda: contact_sync_status(kube_api, namespace, "single").get("observedGeneration"),
            timeout=60,
            what="the single replica to reconcile",
        )
        kubectl(admin, "get", "clusterkopfpeering", "contactsync")
        assert "created the peering object ClusterKopfPeering" in single.log()
    finally:
        single.stop()


def uninstall_command(
    kubeconfig: Path, namespace: str, mode: str
) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "contactsync"
    return subprocess.run(
        [str(cli), "uninstall", f"--contactsyncs={mode}", "--timeout=90"],
        env={
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "CONTACTSYNC_WATCH_NAMESPACES": namespace,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_uninstall_release_lets_contactsyncs_go_without_the_operator(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    namespace = namespace_with_keys(kube_api)
    scoped_operator.extra_env["CONTACTSYNC_WATCH_NAMESPACES"] = namespace
    scoped_operator.start()
    apply_example(kube_control_plane, namespace, "left")
    admin = kube_control_plane.admin_kubeconfig
    finalizers = "jsonpath={.metadata.finalizers}"
    eventually(
        lambda: (
            "contactsync.dev/cleanup"
            in kubectl(admin, "get", "csync/left", "-n", namespace, "-o", finalizers)
        ),
        what="the operator's finalizer",
    )
    scoped_operator.stop()  # as the chart's hook does first, by scaling the Deployment to zero
    released = uninstall_command(admin, namespace, "release")
    assert released.returncode == 0, released.stderr
    assert f"released 1 ContactSync(s): {namespace}/left" in released.stdout
    kubectl(admin, "delete", "csync/left", "-n", namespace, "--timeout=30s")


def test_uninstall_delete_has_the_operator_clean_each_contactsync_up(
    scoped_operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
) -> None:
    namespace = namespace_with_keys(kube_api)
    scoped_operator.extra_env["CONTACTSYNC_WATCH_NAMESPACES"] = namespace
    scoped_operator.start()
    apply_example(kube_control_plane, namespace, "cleaned")
    eventually(
        lambda: contact_sync_status(kube_api, namespace, "cleaned").get("observedGeneration"),
        what="status",
    )
    deleted = uninstall_command(kube_control_plane.admin_kubeconfig, namespace, "delete")
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted and cleaned up 1 ContactSync(s): {namespace}/cleaned" in deleted.stdout
    assert "CleanedUp" in kubectl(
        kube_control_plane.admin_kubeconfig,
        "get",
        "events",
        "-n",
        namespace,
        "-o",
        "jsonpath={.items[*].reason}",
    )


def test_the_default_egress_policy_is_made_once_and_then_left_to_platform_admins(
    scoped_operator: OperatorRun, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient
) -> None:
    """The chart hands the operator its default policy; the operator creates it at start while
    none of its name exists, and never changes it (an admin's edit stays), so no upgrade can
    leave the namespaces without a policy for a moment."""
    name = f"default-{uuid.uuid4().hex[:6]}"
    objects = k8s.CustomObjectsApi(kube_api)
    policies = ("contactsync.dev", "v1alpha1", "contactsyncegresspolicies")

    def start_handing(cidr: str) -> None:
        """(Re)start the operator as the chart would run it with egressPolicy.allow=[cidr]."""
        scoped_operator.stop()
        spec = {"namespaceSelector": {}, "allow": [{"cidr": cidr}], "allowLinkLocal": False}
        policy = json.dumps({"name": name, "spec": spec})
        scoped_operator.extra_env["CONTACTSYNC_DEFAULT_EGRESS_POLICY"] = policy
        scoped_operator.start()
        # Metrics are served once the start-up handler, which makes the policy, is done.
        eventually(lambda: serves_metrics(scoped_operator), what="the operator to have started")

    def blocks() -> list[str] | None:
        try:
            found = cast(dict[str, Any], objects.get_cluster_custom_object(*policies, name))
        except ApiException as exc:
            if exc.status != 404:
                raise
            return None
        return [rule["cidr"] for rule in found["spec"]["allow"]]

    try:
        start_handing("203.0.113.0/24")
        assert blocks() == ["203.0.113.0/24"]
        edited = {"spec": {"allow": [{"cidr": "192.0.2.0/24"}]}}
        objects.patch_cluster_custom_object(*policies, name, edited)
        start_handing("198.51.100.0/24")
        assert blocks() == ["192.0.2.0/24"], "the admin's edit stays"
        objects.delete_cluster_custom_object(*policies, name)
        start_handing("198.51.100.0/24")
        assert blocks() == ["198.51.100.0/24"], "made again, from what the chart hands now"
    finally:
        with contextlib.suppress(ApiException):
            objects.delete_cluster_custom_object(*policies, name)


def serves_metrics(run: OperatorRun) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{run.metrics_port}/metrics", timeout=2).is_success
    except httpx.TransportError:
        return False
