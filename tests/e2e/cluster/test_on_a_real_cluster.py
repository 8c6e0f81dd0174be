"""The README's "On a real cluster" steps, one for one, on running containers: the image this
repository builds, installed with the chart, on a kubelet node.

Each test is a step and relies on the ones before it (module fixtures hold what they made).
The steps run against the real thing: pods from the image, probes the kubelet runs, logs and
exec through the API server, the `kubernetes` Service routed by kube-proxy.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import subprocess
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s

from contactsync_operator import naming
from tests.carddav_sync import VCARD, cards, vcard
from tests.e2e.cluster.conftest import NODE_REGION, ROOT, Cluster
from tests.e2e.operator_env import contact_sync_status
from tests.servers import toolchain
from tests.servers.node import HOST_ADDRESS
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.support import eventually, kubectl

pytestmark = [pytest.mark.kube, pytest.mark.temporal, pytest.mark.carddav, pytest.mark.pods]

OPERATOR_NAMESPACE = "contactsync-system"
NAMESPACE = "contacts"
NAME = "phonebook"
OTHER_REGION = "us-east-1"  # no node of this region exists
PEOPLE = 5
BULK = 150  # enough cards that a sync takes several seconds of PUTs


def helm(cluster: Cluster, *args: str) -> str:
    result = subprocess.run(
        [
            str(toolchain.built_binary("helm", toolchain.HELM_VERSION)),
            f"--kubeconfig={cluster.kubeconfig}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
    return result.stdout


def pods(cluster: Cluster, namespace: str, selector: str) -> list[k8s.V1Pod]:
    return list(
        k8s.CoreV1Api(cluster.api).list_namespaced_pod(namespace, label_selector=selector).items
    )


def ready(pod: k8s.V1Pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def worker_selector(name: str, region: str) -> str:
    return ",".join(f"{k}={v}" for k, v in naming.selector_labels(name, region).items())


def running_workers(cluster: Cluster, namespace: str, name: str) -> list[k8s.V1Pod]:
    found = pods(cluster, namespace, worker_selector(name, NODE_REGION))
    live = [p for p in found if p.metadata and not p.metadata.deletion_timestamp]
    return live if live and all(ready(p) for p in live) else []


def contact_sync(name: str, namespace: str, region: str, source: str, destination: str) -> str:
    dav = {"allowInsecure": True, "credentialsSecretRef": {"name": "dav-credentials"}}
    return yaml.safe_dump(
        {
            "apiVersion": "contactsync.dev/v1alpha1",
            "kind": "ContactSync",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "schedule": {"interval": "1h"},
                "regions": [
                    {"name": region, "encryption": {"keysSecretRef": {"name": "contact-keys"}}}
                ],
                "sources": [{"name": "team", "region": region, "carddav": {"url": source, **dav}}],
                "destinations": [
                    {"name": "book", "region": region, "carddav": {"url": destination, **dav}}
                ],
                "fields": ["fullName", "emails"],
                "consent": {"mode": "NotRequired"},
            },
        }
    )


def create_namespace_with_secrets(
    cluster: Cluster, namespace: str, dav: RadicaleServer, contact_sync: str
) -> None:
    """README step 3: the namespace, the region's keys and the CardDAV credentials,
    labelled for the ContactSync that may use them."""
    kubectl(cluster.kubeconfig, "create", "namespace", namespace)
    kubectl(
        cluster.kubeconfig,
        "create",
        "secret",
        "generic",
        "contact-keys",
        f"--namespace={namespace}",
        *(
            f"--from-literal={name}={base64.b64encode(secrets.token_bytes(32)).decode()}"
            for name in ("k0001", "pseudonym", "requests.key")
        ),
    )
    kubectl(
        cluster.kubeconfig,
        "create",
        "secret",
        "generic",
        "dav-credentials",
        f"--namespace={namespace}",
        f"--from-literal=username={dav.username}",
        f"--from-literal=password={dav.password}",
    )
    kubectl(
        cluster.kubeconfig,
        "label",
        "secret",
        "contact-keys",
        "dav-credentials",
        f"--namespace={namespace}",
        f"contactsync.dev/use={contact_sync}",
    )


def trigger_sync(cluster: Cluster, temporal: TemporalDevServer, namespace: str, name: str) -> None:
    """README step 5: run the region's sync schedule now, by the id the status reports."""
    schedule_id = kubectl(
        cluster.kubeconfig,
        "get",
        f"contactsync/{name}",
        f"--namespace={namespace}",
        "--output=jsonpath={.status.regions[0].scheduleId}",
    ).strip()
    assert schedule_id == naming.sync_schedule_id(namespace, name, NODE_REGION)
    subprocess.run(
        [
            str(toolchain.on_path("temporal")),
            "schedule",
            "trigger",
            f"--schedule-id={schedule_id}",
            f"--address={temporal.address}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


def last_sync(cluster: Cluster, namespace: str, name: str) -> dict[str, Any] | None:
    regions = contact_sync_status(cluster.api, namespace, name).get("regions", [])
    last = regions[0].get("lastSync") if regions else None
    return last if last and last.get("result") == "Succeeded" else None


@pytest.fixture(scope="module")
async def dav(cluster_radicale: RadicaleServer) -> AsyncIterator[httpx.AsyncClient]:
    auth = (cluster_radicale.username, cluster_radicale.password)
    async with httpx.AsyncClient(auth=auth, timeout=30.0) as client:
        yield client


@pytest.fixture(scope="module")
def release(cluster: Cluster, pod_temporal_address: str) -> str:
    """README step 2: `helm install` of the chart with its default image."""
    helm(
        cluster,
        "install",
        "contactsync",
        str(ROOT / "helm" / "contactsync"),
        f"--namespace={OPERATOR_NAMESPACE}",
        "--create-namespace",
        f"--set=temporal.address={pod_temporal_address}",
        # The test Temporal (the dev server) has no TLS: README step 2's development variant.
        "--set=temporal.plaintext=true",
        # The status follows finished runs on each resync; a short one keeps the test short.
        "--set=resyncSeconds=5",
        # The servers the pods dial are on the pod network's host address, a private one that
        # the default egress policy keeps out of reach: the platform admin allows just it.
        f"--set-json=egressPolicy.allow={json.dumps([{'cidr': f'{HOST_ADDRESS}/32'}])}",
    )
    kubectl(
        cluster.kubeconfig,
        "rollout",
        "status",
        "deployment/contactsync",
        f"--namespace={OPERATOR_NAMESPACE}",
        "--timeout=180s",
    )
    return "contactsync"


@pytest.fixture(scope="module")
async def books(cluster_radicale: RadicaleServer, dav: httpx.AsyncClient) -> tuple[str, str]:
    """A source address book of five people and an empty destination, on the pods' side."""
    source, destination = (
        cluster_radicale.create_addressbook(),
        cluster_radicale.create_addressbook(),
    )
    for n in range(PEOPLE):
        card = vcard(f"p{n}", f"Pod Person {n}", f"p{n}@example.org")
        assert (await dav.put(f"{source}p{n}.vcf", content=card, headers=VCARD)).status_code == 201
    return source, destination


def test_the_image_runs_as_uid_10001_with_oci_labels(project_image: tuple[Path, float]) -> None:
    """README step 1 made the image; its config says who it runs as and what it is."""
    tarball, _ = project_image
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("manifest.json"))  # type: ignore[arg-type]
        [entry] = manifest
        assert entry["RepoTags"] == ["ghcr.io/contactsync/contactsync:0.1.0"]
        config = json.load(archive.extractfile(entry["Config"]))  # type: ignore[arg-type]
    image = config["config"]
    assert image["User"] == "10001:10001"
    assert image["Entrypoint"] == ["contactsync"]
    labels = image["Labels"]
    assert labels["org.opencontainers.image.version"] == "0.1.0"
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")


def test_the_chart_installs_with_the_built_image_and_one_operator_leads(
    cluster: Cluster, release: str
) -> None:
    operators = pods(
        cluster,
        OPERATOR_NAMESPACE,
        "app.kubernetes.io/name=contactsync,app.kubernetes.io/component=operator",
    )
    assert len(operators) == 2
    for pod in operators:
        assert pod.spec is not None
        assert pod.status is not None
        assert pod.spec.node_name == cluster.node.name
        assert pod.spec.containers[0].image == "ghcr.io/contactsync/contactsync:0.1.0"
        assert pod.status.phase == "Running"
        assert ready(pod)

    def log(pod: k8s.V1Pod) -> str:
        assert pod.metadata is not None
        return kubectl(
            cluster.kubeconfig, "logs", str(pod.metadata.name), f"--namespace={OPERATOR_NAMESPACE}"
        )

    def leading(pod: k8s.V1Pod) -> bool:
        """Kopf logs each change of its peering state; the last one says where it stands."""
        text = log(pod)
        return text.rfind("Resuming operations") > text.rfind("Pausing operations")

    try:
        eventually(
            lambda: sum(map(leading, operators)) == 1,
            timeout=90,
            what="exactly one operator pod to lead",
        )
    except AssertionError as exc:
        tails = "\n---\n".join(log(p)[-3000:] for p in operators)
        raise AssertionError(f"{exc}\n{tails}") from None


async def test_a_contactsync_becomes_ready_and_a_scheduled_sync_runs_in_its_pods(
    cluster: Cluster,
    release: str,
    cluster_radicale: RadicaleServer,
    cluster_temporal: TemporalDevServer,
    books: tuple[str, str],
    dav: httpx.AsyncClient,
) -> None:
    source, destination = books
    create_namespace_with_secrets(cluster, NAMESPACE, cluster_radicale, NAME)
    kubectl(
        cluster.kubeconfig,
        "apply",
        "--filename=-",
        stdin=contact_sync(NAME, NAMESPACE, NODE_REGION, source, destination),
    )
    kubectl(
        cluster.kubeconfig,
        "wait",
        "--for=condition=Ready",
        f"contactsync/{NAME}",
        f"--namespace={NAMESPACE}",
        "--timeout=180s",
    )
    workers = running_workers(cluster, NAMESPACE, NAME)
    assert workers, "Ready means the region's worker pods are ready"
    assert {p.spec.node_name for p in workers if p.spec} == {cluster.node.name}

    trigger_sync(cluster, cluster_temporal, NAMESPACE, NAME)
    run = eventually(
        lambda: last_sync(cluster, NAMESPACE, NAME), timeout=120, what="the run in the status"
    )
    assert run["created"] == PEOPLE
    assert run["quarantined"] == 0
    synced = await cards(dav, destination)
    assert sorted(text.split("FN:")[1].split("\n")[0].strip() for text in synced.values()) == [
        f"Pod Person {n}" for n in range(PEOPLE)
    ]
    for pod in workers:
        assert pod.metadata is not None
        log = kubectl(
            cluster.kubeconfig, "logs", str(pod.metadata.name), f"--namespace={NAMESPACE}"
        )
        assert "polling" in log, "the log is the worker's own"
        assert "Pod Person" not in log, "no contact data in logs"
        assert "@example.org" not in log, "no contact data in logs"


def test_workers_run_only_on_nodes_of_their_region(
    cluster: Cluster, release: str, cluster_radicale: RadicaleServer, books: tuple[str, str]
) -> None:
    source, destination = books
    name = "elsewhere"
    # The same Secrets serve a second ContactSync: its owner lists both in the annotation.
    kubectl(
        cluster.kubeconfig,
        "annotate",
        "secret",
        "contact-keys",
        "dav-credentials",
        f"--namespace={NAMESPACE}",
        f"contactsync.dev/use={NAME},{name}",
    )
    kubectl(
        cluster.kubeconfig,
        "apply",
        "--filename=-",
        stdin=contact_sync(name, NAMESPACE, OTHER_REGION, source, destination),
    )
    try:
        selector = worker_selector(name, OTHER_REGION)
        pending = eventually(
            lambda: pods(cluster, NAMESPACE, selector), what="the other region's worker pods"
        )

        def unschedulable() -> bool:
            events = kubectl(
                cluster.kubeconfig,
                "get",
                "events",
                f"--namespace={NAMESPACE}",
                "--field-selector=reason=FailedScheduling",
                "--output=jsonpath={.items[*].message}",
            )
            return "node affinity" in events

        eventually(unschedulable, what="the scheduler to refuse the only node")
        for pod in pods(cluster, NAMESPACE, selector):
            assert pod.spec is not None
            assert pod.status is not None
            assert pod.spec.node_name is None
            assert pod.status.phase == "Pending"
        assert pending
        status = eventually(
            lambda: contact_sync_status(cluster.api, NAMESPACE, name).get("conditions"),
            what="the other ContactSync's status",
        )
        ready_condition = next(c for c in status if c["type"] == "Ready")
        assert ready_condition["status"] == "False"
        assert ready_condition["reason"] == "WorkersNotReady"
    finally:
        kubectl(
            cluster.kubeconfig,
            "delete",
            f"contactsync/{name}",
            f"--namespace={NAMESPACE}",
            "--wait",
        )


_INSIDE = """
import json, os, pathlib
def writable(path):
    try:
        probe = pathlib.Path(path) / ".probe"
        probe.write_text("x"); probe.unlink(); return True
    except OSError:
        return False
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
keys = pathlib.Path(os.environ["CONTACTSYNC_KEYS_DIR"])
refs = pathlib.Path(os.environ["CONTACTSYNC_SECRETS_DIR"])
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(),
    "root_writable": writable("/"),
    "usr_writable": writable("/opt/contactsync"),
    "tmp_writable": writable("/tmp"),
    "state_writable": writable(os.environ["CONTACTSYNC_STATE_DIR"]),
    "cap_eff": status["CapEff"].strip(), "no_new_privs": status["NoNewPrivs"].strip(),
    "keys": sorted(p.name for p in keys.iterdir() if not p.name.startswith("..")),
    # Secret volumes hold the keys as links into a hidden ..data directory.
    "refs": sorted(
        str(p.relative_to(refs)) for p in refs.rglob("*")
        if p.is_file() and not any(part.startswith("..") for part in p.parts)
    ),
    "environment": dict(os.environ),
    # Destinations of the pod's routes, as the kernel lists them (hex, little-endian).
    "routes": [line.split()[1] for line in open("/proc/net/route").readlines()[1:]],
}))
"""


def test_the_worker_container_is_non_root_on_a_read_only_root_and_gets_secrets_as_files(
    cluster: Cluster, release: str, cluster_radicale: RadicaleServer
) -> None:
    [pod, *_] = running_workers(cluster, NAMESPACE, NAME)
    assert pod.metadata is not None
    seen = json.loads(
        kubectl(
            cluster.kubeconfig,
            "exec",
            str(pod.metadata.name),
            f"--namespace={NAMESPACE}",
            "--",
            "python3",
            "-c",
            _INSIDE,
        )
    )
    assert (seen["uid"], seen["gid"]) == (10001, 10001)
    assert not seen["root_writable"]
    assert not seen["usr_writable"]
    assert seen["tmp_writable"], "the image expects a writable /tmp"
    assert seen["state_writable"]
    assert int(seen["cap_eff"], 16) == 0, "all capabilities dropped"
    assert seen["no_new_privs"] == "1"
    assert seen["keys"] == ["k0001", "pseudonym"], "the request key is never mounted"
    assert any(path.endswith("password") for path in seen["refs"]), seen["refs"]
    values = " ".join(seen["environment"].values())
    assert cluster_radicale.password not in values, "credentials only as files"
    assert "KUBERNETES_SERVICE_HOST" in seen["environment"]
    # The pod reaches the pod network and the Service range, and nothing beyond this machine.
    assert "00000000" not in seen["routes"], "no default route"
    assert len(seen["routes"]) == 2, seen["routes"]
    assert not any("serviceaccount" in v for v in seen["environment"].values())


async def test_state_and_audit_trail_survive_a_restart_of_the_worker(
    cluster: Cluster, release: str, cluster_temporal: TemporalDevServer
) -> None:
    """One worker without PostgreSQL keeps its SQLite state on the claim the operator made:
    a new pod remembers what the old one wrote, and the audit chain goes on."""
    [old] = running_workers(cluster, NAMESPACE, NAME)
    assert old.metadata is not None
    before = last_sync(cluster, NAMESPACE, NAME)
    assert before is not None
    kubectl(cluster.kubeconfig, "delete", "pod", str(old.metadata.name), f"--namespace={NAMESPACE}")

    def replaced() -> list[k8s.V1Pod] | None:
        workers = running_workers(cluster, NAMESPACE, NAME)
        names = {p.metadata.name for p in workers if p.metadata}
        return workers if workers and old.metadata.name not in names else None  # type: ignore[union-attr]

    [new] = eventually(replaced, timeout=120, what="the replacement worker")
    trigger_sync(cluster, cluster_temporal, NAMESPACE, NAME)

    def next_run() -> dict[str, Any] | None:
        run = last_sync(cluster, NAMESPACE, NAME)
        return run if run and run["workflowId"] != before["workflowId"] else None

    run = eventually(next_run, timeout=120, what="a sync on the new pod")
    # It read incrementally, from the sync token the old pod stored, and wrote nothing again.
    assert (run["created"], run["updated"], run["deleted"]) == (0, 0, 0)
    assert new.metadata is not None
    verdict = kubectl(
        cluster.kubeconfig,
        "exec",
        str(new.metadata.name),
        f"--namespace={NAMESPACE}",
        "--",
        "contactsync",
        "audit",
        "verify",
        "--checkpoint",
        before["auditCheckpoint"],  # signed by the old pod: its records must still be there
    )
    assert "intact" in verdict
    assert "0 records" not in verdict
    assert "signed checkpoint" in verdict


async def test_a_worker_pod_force_deleted_mid_sync_is_replaced_and_the_sync_completes_once(
    cluster: Cluster,
    release: str,
    cluster_radicale: RadicaleServer,
    cluster_temporal: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    namespace, name = "bulk", "bulk"
    create_namespace_with_secrets(cluster, namespace, cluster_radicale, name)
    source, destination = (
        cluster_radicale.create_addressbook(),
        cluster_radicale.create_addressbook(),
    )
    for n in range(BULK):
        card = vcard(f"b{n:03}", f"Bulk Person {n:03}", f"b{n:03}@example.org")
        assert (
            await dav.put(f"{source}b{n:03}.vcf", content=card, headers=VCARD)
        ).status_code == 201
    kubectl(
        cluster.kubeconfig,
        "apply",
        "--filename=-",
        stdin=contact_sync(
            name,
            namespace,
            NODE_REGION,
            source,
            destination,
        ),
    )
    [victim] = eventually(
        lambda: running_workers(cluster, namespace, name), timeout=180, what="the worker pod"
    )
    assert victim.metadata is not None
    trigger_sync(cluster, cluster_temporal, namespace, name)

    async def written() -> int:
        return len(await cards(dav, destination))

    deadline = asyncio.get_running_loop().time() + 120
    while (count := await written()) == 0:
        assert asyncio.get_running_loop().time() < deadline, "the sync never started writing"
        await asyncio.sleep(0.2)
    kubectl(
        cluster.kubeconfig,
        "delete",
        "pod",
        str(victim.metadata.name),
        f"--namespace={namespace}",
        "--grace-period=0",
        "--force",
    )
    at_deletion = await written()
    assert 0 < count <= at_deletion < BULK, f"not mid-sync: {at_deletion} of {BULK} written"

    def replaced() -> list[k8s.V1Pod] | None:
        workers = running_workers(cluster, namespace, name)
        names = {p.metadata.name for p in workers if p.metadata}
        return workers if workers and victim.metadata.name not in names else None  # type: ignore[union-attr]

    eventually(replaced, timeout=120, what="a new worker pod to replace the deleted one")
    run = eventually(
        lambda: last_sync(cluster, namespace, name),
        timeout=240,
        what="the interrupted sync to finish on the new pod",
    )
    assert run["quarantined"] == 0
    synced = await cards(dav, destination)
    names = sorted(text.split("FN:")[1].split("\n")[0].strip() for text in synced.values())
    assert names == [f"Bulk Person {n:03}" for n in range(BULK)], "nothing lost, nothing twice"


def test_a_worker_that_cannot_reach_temporal_is_reported_not_ready_by_the_kubelet(
    cluster: Cluster, release: str, cluster_temporal: TemporalDevServer
) -> None:
    assert running_workers(cluster, NAMESPACE, NAME)
    selector = worker_selector(NAME, NODE_REGION)
    cluster_temporal.stop()
    try:
        unready = eventually(
            lambda: [p for p in pods(cluster, NAMESPACE, selector) if not ready(p)],
            timeout=90,
            what="the kubelet to report the worker not ready",
        )
        for pod in unready:
            assert pod.status is not None
            statuses = pod.status.container_statuses or []
            assert all(s.state and s.state.running for s in statuses), "running, just not ready"
    finally:
        cluster_temporal.start()
    eventually(
        lambda: running_workers(cluster, NAMESPACE, NAME),
        timeout=90,
        what="the worker to be ready again once Temporal is back",
    )


def test_helm_uninstall_releases_the_contactsyncs_so_they_and_their_namespace_can_go(
    cluster: Cluster, release: str
) -> None:
    """The last step: uninstalling. The chart's pre-delete Job (from the same image) stops the
    operator and takes its finalizer off every ContactSync; deleting one later, or its
    namespace, no longer waits for an operator that is gone."""
    helm(cluster, "uninstall", release, f"--namespace={OPERATOR_NAMESPACE}", "--wait")
    assert not pods(cluster, OPERATOR_NAMESPACE, "app.kubernetes.io/component=operator")
    live = json.loads(
        kubectl(
            cluster.kubeconfig,
            "get",
            f"contactsync/{NAME}",
            f"--namespace={NAMESPACE}",
            "-o",
            "json",
        )
    )
    assert "contactsync.dev/cleanup" not in (live["metadata"].get("finalizers") or [])
    kubectl(cluster.kubeconfig, "delete", "namespace", NAMESPACE, "--timeout=180s")
    # The hook's own objects go once it succeeded.
    assert "uninstall" not in kubectl(
        cluster.kubeconfig,
        "get",
        "jobs,serviceaccounts",
        f"--namespace={OPERATOR_NAMESPACE}",
        "-o",
        "name",
    )
