"""The operator as users run it: its own process, its chart's RBAC, a ServiceAccount token."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml
from kubernetes import client as k8s

from contactsync_api.egress_policy import API_VERSION as EGRESS_API_VERSION
from contactsync_api.egress_policy import KIND as EGRESS_KIND
from contactsync_api.egress_policy import PLURAL as EGRESS_PLURAL
from contactsync_api.manifest import parse_contact_sync
from contactsync_operator.naming import SECRET_USE_LABEL
from contactsync_operator.secret_access import mounted_secrets
from tests.argocd_health import health_of
from tests.servers import toolchain
from tests.servers.kube import KubeControlPlane
from tests.servers.process import ManagedProcess, free_port
from tests.support import kubectl

ROOT = Path(__file__).parents[2]
CHART = ROOT / "helm" / "contactsync"
OPERATOR_NAMESPACE = "contactsync-system"
# Namespaces with this label bring their own egress policy (or none): the session's open one
# (tests/e2e/conftest.py) leaves them alone.
OWN_EGRESS_POLICY = "e2e.contactsync.dev/own-egress-policy"


def render_chart(helm: Path, *templates: str, values: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Objects of the Helm chart's templates, rendered with default values (cluster-wide) and
    ``values`` (``--set=...`` arguments)."""
    rendered = subprocess.run(
        [
            str(helm),
            "template",
            "contactsync",
            str(CHART),
            f"--namespace={OPERATOR_NAMESPACE}",
            # The test Temporal has no TLS: the chart's development setting.
            "--set=temporal.plaintext=true",
            *values,
            *(f"--show-only=templates/{t}" for t in templates),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(rendered) if d]


def chart_rbac(helm: Path) -> list[dict[str, Any]]:
    """The ServiceAccount and RBAC objects the Helm chart ships."""
    return render_chart(helm, "rbac.yaml", "serviceaccount.yaml")


@dataclass
class OperatorRun:
    """The operator process; kill() and start() again to test crashes and restarts."""

    kubeconfig: Path
    temporal_address: str
    logdir: Path
    resync_seconds: float = 3.0
    extra_env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ("--standalone",)
    name: str = "operator"
    metrics_port: int = field(default_factory=free_port)
    process: ManagedProcess | None = field(default=None, repr=False)
    runs: int = 0

    def start(self) -> OperatorRun:
        self.runs += 1
        env = {
            "KUBECONFIG": str(self.kubeconfig),
            "TEMPORAL_ADDRESS": self.temporal_address,
            "CONTACTSYNC_RESYNC_SECONDS": str(self.resync_seconds),
            "CONTACTSYNC_METRICS_PORT": str(self.metrics_port),
            "CONTACTSYNC_WORKER_IMAGE": "contactsync:e2e",
            "TEMPORAL_PLAINTEXT": "true",  # the test Temporal has no TLS
            **self.extra_env,
        }
        cli = Path(sys.executable).parent / "contactsync"
        argv = [str(cli), "operator", *self.args]
        self.process = ManagedProcess(self.name, argv, self._log(self.runs), env=env).start()
        return self

    def _log(self, run: int) -> Path:
        return self.logdir / f"{self.name}-{run}.log"

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def log(self) -> str:
        logs = [self._log(n) for n in range(1, self.runs + 1)]
        return "\n".join(log.read_text(errors="replace") for log in logs if log.exists())


def install_operator_identity(
    plane: KubeControlPlane, api: k8s.ApiClient, helm: Path, workdir: Path
) -> tuple[Path, str]:
    """Apply the chart's RBAC and return a kubeconfig holding only the operator's SA token."""
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=OPERATOR_NAMESPACE)))
    objects = chart_rbac(helm)
    kubectl(
        plane.admin_kubeconfig,
        "apply",
        "--server-side",
        "--filename=-",
        stdin=yaml.safe_dump_all(objects),
    )
    account = next(o for o in objects if o["kind"] == "ServiceAccount")["metadata"]["name"]
    token = kubectl(
        plane.admin_kubeconfig,
        "create",
        "token",
        account,
        f"--namespace={OPERATOR_NAMESPACE}",
        "--duration=2h",
    ).strip()
    return plane.token_kubeconfig(workdir / "operator.kubeconfig", token, account), account


def create_egress_policy(
    api: k8s.ApiClient, name: str, selector: dict[str, Any], allow: list[dict[str, Any]]
) -> None:
    """What a platform admin does: a ContactSyncEgressPolicy (cluster-scoped)."""
    body = {
        "apiVersion": EGRESS_API_VERSION,
        "kind": EGRESS_KIND,
        "metadata": {"name": name},
        "spec": {"namespaceSelector": selector, "allow": allow},
    }
    group, version = EGRESS_API_VERSION.split("/")
    k8s.CustomObjectsApi(api).create_cluster_custom_object(group, version, EGRESS_PLURAL, body)


def allow_secrets(api: k8s.ApiClient, document: dict[str, Any]) -> None:
    """What Secrets' owners do for a ContactSync: each Secret its manifest names lists it in
    the contactsync.dev/use annotation. Secrets that do not exist yet are made with
    placeholder data (no worker runs on these Nodes), except keys Secrets, which the tests
    make themselves (or leave out on purpose)."""
    meta = document["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    resource = parse_contact_sync({**document, "metadata": {**meta, "uid": "e2e"}})
    core = k8s.CoreV1Api(api)
    for region in resource.spec.regions:
        keys = region.encryption.keys_secret_ref.name if region.encryption else None
        for secret in mounted_secrets(resource, region):
            try:
                found = core.read_namespaced_secret(secret, namespace)
            except k8s.ApiException as exc:
                if exc.status != 404 or secret == keys:
                    continue
                found = core.create_namespaced_secret(
                    namespace,
                    k8s.V1Secret(
                        metadata=k8s.V1ObjectMeta(name=secret),
                        string_data={"placeholder": "no worker runs on these Nodes"},
                    ),
                )
            listed = ((found.metadata and found.metadata.annotations) or {}).get(
                SECRET_USE_LABEL, ""
            )
            names = [n for n in listed.split(",") if n]
            if name not in names:
                annotation = ",".join([*names, name])
                core.patch_namespaced_secret(
                    secret, namespace, {"metadata": {"annotations": {SECRET_USE_LABEL: annotation}}}
                )


def nodes_in_regions(api: k8s.ApiClient, regions: dict[str, int]) -> dict[str, set[str]]:
    """Create schedulable Nodes (no kubelet) labelled with their region; returns names by region."""
    core = k8s.CoreV1Api(api)
    names: dict[str, set[str]] = {}
    for region, count in regions.items():
        for index in range(count):
            name = f"node-{region}-{index}"
            core.create_node(
                k8s.V1Node(
                    metadata=k8s.V1ObjectMeta(
                        name=name,
                        labels={
                            "topology.kubernetes.io/region": region,
                            "topology.kubernetes.io/zone": f"{region}-{'abc'[index % 3]}",
                        },
                    )
                )
            )
            capacity = {"cpu": "8", "memory": "32Gi", "pods": "110"}
            core.patch_node_status(
                name,
                {
                    "status": {
                        "capacity": capacity,
                        "allocatable": capacity,
                        "conditions": [
                            {
                                "type": "Ready",
                                "status": "True",
                                "reason": "E2E",
                                "message": "no kubelet",
                            }
                        ],
                    }
                },
            )
            names.setdefault(region, set()).add(name)
    return names


def mark_pods_ready(api: k8s.ApiClient, namespace: str, selector: str) -> int:
    """Play the kubelet: report the scheduled pods as running and ready."""
    core = k8s.CoreV1Api(api)
    marked = 0
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
        if not (pod.spec and pod.spec.node_name) or not pod.metadata or not pod.metadata.name:
            continue
        core.patch_namespaced_pod_status(
            pod.metadata.name,
            namespace,
            {
                "status": {
                    "phase": "Running",
                    "conditions": [
                        {"type": "Ready", "status": "True", "lastTransitionTime": now},
                        {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                    ],
                    "containerStatuses": [
                        {
                            "name": "worker",
                            "ready": True,
                            "restartCount": 0,
                            "image": "contactsync:e2e",
                            "imageID": "",
                            "started": True,
                            "state": {"running": {"startedAt": now}},
                        }
                    ],
                }
            },
        )
        marked += 1
    return marked


def running(process: OperatorRun) -> Iterator[OperatorRun]:
    try:
        yield process.start()
    finally:
        process.stop()


def contact_sync_status(api: k8s.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    body = cast(
        dict[str, Any],
        k8s.CustomObjectsApi(api).get_namespaced_custom_object(
            "contactsync.dev", "v1alpha1", namespace, "contactsyncs", name
        ),
    )
    return dict(body.get("status") or {})


def kstatus_of(plane: KubeControlPlane, namespace: str, name: str) -> dict[str, str]:
    """How Flux and kpt read the ContactSync now: the kstatus library's verdict on the live
    object (tests/env/kstatus), as {"status": Current|InProgress|Failed|..., "message"}."""
    document = kubectl(
        plane.admin_kubeconfig,
        "get",
        f"contactsync/{name}",
        f"--namespace={namespace}",
        "-o",
        "json",
    )
    verdict = subprocess.run(
        [str(toolchain.built_binary("kstatus", toolchain.KSTATUS_VERSION))],
        input=document,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return cast(dict[str, str], json.loads(verdict.stdout))


def argocd_health(plane: KubeControlPlane, namespace: str, name: str) -> dict[str, str]:
    """What Argo CD shows for the live ContactSync (see tests/argocd_health.py)."""
    admin = plane.admin_kubeconfig
    live = json.loads(
        kubectl(admin, "get", f"contactsync/{name}", f"--namespace={namespace}", "-o", "json")
    )
    return health_of(live)
