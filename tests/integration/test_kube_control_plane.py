"""The local control plane is a real one: CRDs, controllers, scheduler, RBAC, tokens."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from tests.servers import toolchain
from tests.servers.kube import KubeControlPlane
from tests.support import eventually, kubectl

pytestmark = pytest.mark.kube
REGION_LABEL = "topology.kubernetes.io/region"


@pytest.fixture
def namespace(kube_api: k8s.ApiClient) -> str:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


def test_custom_resource_round_trips_through_python_client(
    kube_api: k8s.ApiClient, namespace: str
) -> None:
    group, plural = "smoke.contactsync.dev", "widgets"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    extensions = k8s.ApiextensionsV1Api(kube_api)
    extensions.create_custom_resource_definition(crd)  # type: ignore[arg-type]

    def established() -> bool:
        status = extensions.read_custom_resource_definition(f"{plural}.{group}").status
        conditions = (status.conditions if status else None) or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    eventually(established, what="CRD Established")
    objects = k8s.CustomObjectsApi(kube_api)
    body = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3},
    }
    objects.create_namespaced_custom_object(group, "v1", namespace, plural, body)
    read = cast(
        dict[str, Any], objects.get_namespaced_custom_object(group, "v1", namespace, plural, "w")
    )
    assert read["spec"] == {"size": 3}
    assert read["metadata"]["uid"]


def make_node(api: k8s.CoreV1Api, name: str, region: str) -> None:
    api.create_node(k8s.V1Node(metadata=k8s.V1ObjectMeta(name=name, labels={REGION_LABEL: region})))
    # No kubelet reports capacity, so the test does: the scheduler fits pods against it.
    api.patch_node_status(
        name,
        {
            "status": {
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "Test", "message": "no kubelet"}
                ],
            }
        },
    )


def test_deployment_pods_are_scheduled_onto_the_region_node(
    kube_api: k8s.ApiClient, namespace: str
) -> None:
    core = k8s.CoreV1Api(kube_api)
    suffix = namespace.removeprefix("smoke-")
    make_node(core, f"node-a-{suffix}", f"region-a-{suffix}")
    make_node(core, f"node-b-{suffix}", f"region-b-{suffix}")
    labels = {"app": "smoke"}
    affinity = k8s.V1Affinity(
        node_affinity=k8s.V1NodeAffinity(
            required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(
                node_selector_terms=[
                    k8s.V1NodeSelectorTerm(
                        match_expressions=[
                            k8s.V1NodeSelectorRequirement(
                                key=REGION_LABEL, operator="In", values=[f"region-b-{suffix}"]
                            )
                        ]
                    )
                ]
            )
        )
    )
    deployment = k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name="smoke"),
        spec=k8s.V1DeploymentSpec(
            replicas=2,
            selector=k8s.V1LabelSelector(match_labels=labels),
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels=labels),
                spec=k8s.V1PodSpec(
                    affinity=affinity,
                    containers=[k8s.V1Container(name="c", image="example.invalid/never-pulled:1")],
                ),
            ),
        ),
    )
    k8s.AppsV1Api(kube_api).create_namespaced_deployment(namespace, deployment)

    def replica_set_names() -> list[str]:
        items = k8s.AppsV1Api(kube_api).list_namespaced_replica_set(namespace).items
        return [rs.metadata.name for rs in items if rs.metadata and rs.metadata.name]

    eventually(replica_set_names, what="the controller manager to create a ReplicaSet")

    def bound_pods() -> list[k8s.V1Pod] | None:
        pods = core.list_namespaced_pod(namespace, label_selector="app=smoke").items
        return pods if len(pods) == 2 and all(p.spec and p.spec.node_name for p in pods) else None

    pods = eventually(bound_pods, what="the scheduler to bind both pods")
    assert {p.spec.node_name for p in pods if p.spec} == {f"node-b-{suffix}"}


def test_service_account_token_authenticates_and_rbac_limits_it(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, namespace: str, tmp_path: Path
) -> None:
    core = k8s.CoreV1Api(kube_api)
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="bot"))
    )
    admin = kube_control_plane.admin_kubeconfig
    token = kubectl(admin, "create", "token", "bot", f"--namespace={namespace}").strip()
    as_bot = kube_control_plane.token_kubeconfig(tmp_path / "bot.kubeconfig", token, "bot")

    username = kubectl(as_bot, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert username == f"system:serviceaccount:{namespace}:bot"
    assert (
        kubectl(as_bot, "auth", "can-i", "list", "pods", f"--namespace={namespace}", check=False)
        == "no\n"
    )

    with (
        k8s_config.new_client_from_config(config_file=str(as_bot)) as bot_api,
        pytest.raises(ApiException) as refused,
    ):
        k8s.CoreV1Api(bot_api).list_namespaced_secret(namespace)
    assert refused.value.status == 403


def test_api_server_runs_the_pinned_release(kube_api: k8s.ApiClient) -> None:
    info = k8s.VersionApi(kube_api).get_code()
    assert info.git_version == toolchain.KUBERNETES_VERSION


def test_helm_installs_a_chart_into_the_cluster(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    helm_binary: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    chart = tmp_path / "smoke"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: smoke\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )
    result = subprocess.run(
        [
            str(helm_binary),
            "install",
            "smoke",
            str(chart),
            f"--kubeconfig={kube_control_plane.admin_kubeconfig}",
            f"--namespace={namespace}",
            "--set=greeting=from-helm",
            "--wait",
            "--timeout=60s",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    config_map = k8s.CoreV1Api(kube_api).read_namespaced_config_map("smoke-greeting", namespace)
    assert config_map.data == {"greeting": "from-helm"}
