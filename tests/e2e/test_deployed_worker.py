"""What the operator deploys is what runs: a worker started from the Deployment's own
command, environment and volumes (paths mapped to a temp dir) syncs when the schedule fires,
and the operator reports the run's counts in the ContactSync's status."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s
from temporalio.client import Client, ScheduleHandle
from temporalio.service import RPCError

from contactsync_operator import naming
from contactsync_worker.keyring import REQUESTS_KEY
from tests.carddav_sync import VCARD, cards, vcard
from tests.e2e.conftest import EU, US
from tests.e2e.operator_env import OperatorRun, allow_secrets, contact_sync_status
from tests.servers.kube import KubeControlPlane
from tests.servers.process import ManagedProcess, free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.support import eventually, kubectl

pytestmark = [pytest.mark.kube, pytest.mark.temporal, pytest.mark.carddav]


def manifest(namespace: str, source: str, destination: str) -> dict[str, Any]:
    dav = {"allowInsecure": True, "credentialsSecretRef": {"name": "dav"}}
    return {
        "apiVersion": "contactsync.dev/v1alpha1",
        "kind": "ContactSync",
        "metadata": {"name": "deployed", "namespace": namespace},
        "spec": {
            "schedule": {"interval": "1h"},
            "regions": [{"name": EU, "encryption": {"keysSecretRef": {"name": "keys"}}}],
            "sources": [{"name": "team", "region": EU, "carddav": {"url": source, **dav}}],
            "destinations": [
                {"name": "book", "region": EU, "carddav": {"url": destination, **dav}}
            ],
            "fields": ["fullName", "emails"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"maxDeletePercent": 50},
        },
    }


def materialize(
    api: k8s.ApiClient, namespace: str, pod: dict[str, Any], root: Path
) -> dict[str, str]:
    """Lay out the pod's ConfigMap and Secret volumes under ``root`` and return the container's
    environment with every mount path mapped there: the worker reads exactly what it would."""
    core = k8s.CoreV1Api(api)
    container = pod["containers"][0]
    mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
    for volume in pod.get("volumes", []):
        target = root / mounts[volume["name"]].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            data = core.read_namespaced_config_map(volume["configMap"]["name"], namespace).data
            for key, text in (data or {}).items():
                (target / key).write_text(text)
        elif "secret" in volume:
            secret = core.read_namespaced_secret(volume["secret"]["secretName"], namespace)
            encoded = {key: str(value) for key, value in (secret.data or {}).items()}
            # With items, the kubelet projects only the entries listed, under their paths.
            items = volume["secret"].get("items") or [{"key": k, "path": k} for k in encoded]
            for item in items:
                (target / item["path"]).write_bytes(base64.b64decode(encoded[item["key"]]))
    env: dict[str, str] = {}
    for variable in container.get("env", []):
        value = str(variable.get("value", ""))
        # Every absolute path in the environment is a path inside the pod.
        env[variable["name"]] = str(root / value.lstrip("/")) if value.startswith("/") else value
    env["CONTACTSYNC_METRICS_PORT"] = str(free_port())
    return env


@asynccontextmanager
async def deployed(
    plane: KubeControlPlane,
    api: k8s.ApiClient,
    radicale: RadicaleServer,
    dav: httpx.AsyncClient,
    workdir: Path,
    **spec: Any,
) -> AsyncIterator[tuple[str, str, ManagedProcess]]:
    """A ContactSync of five contacts applied, and its worker running from its Deployment.
    Yields the namespace, the destination book and the worker process."""
    namespace = f"deployed-{uuid.uuid4().hex[:6]}"
    core = k8s.CoreV1Api(api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    keys = {
        name: base64.b64encode(secrets.token_bytes(32)).decode() for name in ("k0001", REQUESTS_KEY)
    }
    core.create_namespaced_secret(
        namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="keys"), string_data=keys)
    )
    core.create_namespaced_secret(
        namespace,
        k8s.V1Secret(
            metadata=k8s.V1ObjectMeta(name="dav"),
            string_data={"username": radicale.username, "password": radicale.password},
        ),
    )
    source, destination = radicale.create_addressbook(), radicale.create_addressbook()
    for n in range(5):
        card = vcard(f"d{n}", f"Deployed Person {n}", f"d{n}@example.org")
        assert (await dav.put(f"{source}d{n}.vcf", content=card, headers=VCARD)).status_code == 201
    document = manifest(namespace, source, destination)
    document["spec"].update(spec)
    allow_secrets(api, document)
    kubectl(
        plane.admin_kubeconfig,
        "apply",
        "--server-side",
        "--filename=-",
        stdin=yaml.safe_dump(document),
    )
    apps = k8s.AppsV1Api(api)
    name = naming.object_name("deployed", EU, "worker")
    deployment = eventually(
        lambda: next(
            iter(
                apps.list_namespaced_deployment(
                    namespace, field_selector=f"metadata.name={name}"
                ).items
            ),
            None,
        ),
        what="the worker Deployment",
    )
    pod = api.sanitize_for_serialization(deployment)["spec"]["template"]["spec"]
    env = materialize(api, namespace, pod, workdir / "pod")
    program, *arguments = pod["containers"][0]["command"]
    command = [str(Path(sys.executable).parent / program), *arguments]
    worker = ManagedProcess("deployed-worker", command, workdir / "worker.log", env=env).start()
    try:
        port = env["CONTACTSYNC_METRICS_PORT"]
        eventually(lambda: _ready(port), timeout=60, what="the deployed worker to poll")
        yield namespace, destination, worker
    finally:
        worker.stop()


def reported_run(api: k8s.ApiClient, namespace: str) -> dict[str, Any] | None:
    regions = contact_sync_status(api, namespace, "deployed").get("regions", [])
    last = regions[0].get("lastSync") if regions else None
    return last if last and last.get("result") == "Succeeded" else None


async def test_the_deployed_worker_syncs_on_schedule_and_status_reports_the_run(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
    radicale_server: RadicaleServer,
    dav: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    async with deployed(kube_control_plane, kube_api, radicale_server, dav, tmp_path) as (
        namespace,
        destination,
        worker,
    ):
        client = await Client.connect(temporal.address)
        schedule = client.get_schedule_handle(naming.sync_schedule_id(namespace, "deployed", EU))
        await trigger_when_created(schedule)
        reported = eventually(
            lambda: reported_run(kube_api, namespace),
            timeout=90,
            what="the operator to report the run",
        )
        assert reported["created"] == 5
        assert reported["quarantined"] == 0
        assert len(await cards(dav, destination)) == 5
        assert "Deployed Person" not in worker.log_tail(200), "no contact data in the worker's logs"


async def test_deleting_with_purge_policy_erases_what_was_synced_before_it_goes(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
    radicale_server: RadicaleServer,
    dav: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    async with deployed(
        kube_control_plane, kube_api, radicale_server, dav, tmp_path, deletionPolicy="Purge"
    ) as (namespace, destination, _):
        await synced_once(temporal, kube_api, namespace)
        assert len(await cards(dav, destination)) == 5
        kubectl(
            kube_control_plane.admin_kubeconfig,
            "delete",
            "contactsync/deployed",
            f"--namespace={namespace}",
            "--timeout=120s",
        )
        assert await cards(dav, destination) == {}, "the purge ran before the resource went"
        events = kubectl(
            kube_control_plane.admin_kubeconfig,
            "get",
            "events",
            f"--namespace={namespace}",
            "--field-selector=reason=CleanedUp",
            "-o",
            "jsonpath={.items[*].message}",
        )
        assert "purged regions eu-central-1" in events


async def test_a_contactsync_created_again_under_the_same_name_is_purged_again(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
    radicale_server: RadicaleServer,
    dav: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    """The second object's purge is its own: it must not read as the first one's, done."""
    admin = kube_control_plane.admin_kubeconfig
    async with deployed(
        kube_control_plane, kube_api, radicale_server, dav, tmp_path, deletionPolicy="Purge"
    ) as (namespace, destination, _):
        applied = json.loads(
            kubectl(admin, "get", "contactsync/deployed", f"--namespace={namespace}", "-o", "json")
        )
        again = {k: applied[k] for k in ("apiVersion", "kind", "spec")}
        again["metadata"] = {"name": "deployed", "namespace": namespace}
        client = await Client.connect(temporal.address)
        schedule = client.get_schedule_handle(naming.sync_schedule_id(namespace, "deployed", EU))
        for life in ("first", "second"):
            if life == "second":
                kubectl(admin, "apply", "--filename=-", stdin=json.dumps(again))
            await trigger_when_created(schedule)
            run = eventually(
                lambda: reported_run(kube_api, namespace), timeout=90, what=f"the {life} sync"
            )
            assert run["created"] == 5, f"the {life} object wrote every card itself"
            assert len(await cards(dav, destination)) == 5, f"the {life} object synced"
            kubectl(
                admin,
                "delete",
                "contactsync/deployed",
                f"--namespace={namespace}",
                "--timeout=120s",
            )
            assert await cards(dav, destination) == {}, f"the {life} object's purge ran"


async def test_a_region_removed_from_the_spec_is_purged_before_its_workers_go(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
    radicale_server: RadicaleServer,
    dav: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    """Under Purge, dropping a region from the spec erases what it wrote, through its own
    workers, and only then deletes them; the ContactSync goes on in the regions it keeps."""
    admin = kube_control_plane.admin_kubeconfig
    async with deployed(
        kube_control_plane, kube_api, radicale_server, dav, tmp_path, deletionPolicy="Purge"
    ) as (namespace, destination, _):
        client, _ = await synced_once(temporal, kube_api, namespace)
        assert len(await cards(dav, destination)) == 5
        moved = manifest(namespace, radicale_server.create_addressbook(), destination)
        moved["spec"]["deletionPolicy"] = "Purge"
        spec = moved["spec"]
        spec["regions"] = [{**spec["regions"][0], "name": US}]
        for entry in (*spec["sources"], *spec["destinations"]):
            entry["region"], entry["name"] = US, f"{entry['name']}-us"
        spec["destinations"][0]["carddav"]["url"] = radicale_server.create_addressbook()
        allow_secrets(kube_api, moved)
        kubectl(admin, "apply", "--server-side", "--filename=-", stdin=yaml.safe_dump(moved))
        deadline = time.monotonic() + 90
        while await cards(dav, destination):
            assert time.monotonic() < deadline, "the removed region's purge never ran"
            await asyncio.sleep(1)
        apps = k8s.AppsV1Api(kube_api)
        eu_worker = naming.object_name("deployed", EU, "worker")
        eventually(
            lambda: (
                not apps.list_namespaced_deployment(
                    namespace, field_selector=f"metadata.name={eu_worker}"
                ).items
            ),
            timeout=60,
            what="the purged region's workers to go",
        )
        assert apps.list_namespaced_deployment(
            namespace, field_selector=f"metadata.name={naming.object_name('deployed', US)}"
        ).items, "the region the spec kept has its workers"
        events = kubectl(
            admin,
            "get",
            "events",
            f"--namespace={namespace}",
            "--field-selector=reason=RegionPurged",
            "-o",
            "jsonpath={.items[*].message}",
        )
        assert f"region {EU} left the spec; purged" in events
        with pytest.raises(RPCError):
            await client.get_schedule_handle(
                naming.sync_schedule_id(namespace, "deployed", EU)
            ).describe()


async def test_deleting_the_namespace_of_a_contactsync_under_purge_does_not_hang(
    operator: OperatorRun,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    temporal: TemporalDevServer,
    radicale_server: RadicaleServer,
    dav: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    """Deleting the namespace deletes the workers and Secrets a purge needs, and nothing new
    may start there: the purge is given up, said so in the operator's log and metrics, no
    workflow is left waiting for a worker, and the namespace goes."""
    admin = kube_control_plane.admin_kubeconfig
    async with deployed(
        kube_control_plane, kube_api, radicale_server, dav, tmp_path, deletionPolicy="Purge"
    ) as (namespace, destination, worker):
        client, schedule = await synced_once(temporal, kube_api, namespace)
        uid = json.loads(
            kubectl(admin, "get", "contactsync/deployed", f"--namespace={namespace}", "-o", "json")
        )["metadata"]["uid"]
        worker.stop()  # the namespace's pods go with it
        kubectl(admin, "delete", "namespace", namespace, "--timeout=90s")
        assert namespace not in kubectl(admin, "get", "namespaces", "-o", "name")
        assert f"NOT purged: regions {EU}" in operator.log()
        assert len(await cards(dav, destination)) == 5, "what was written stays, as the log says"
        with pytest.raises(RPCError):
            await schedule.describe()
        purge = client.get_workflow_handle(naming.purge_workflow_id(namespace, "deployed", EU, uid))
        try:
            described = await purge.describe()
        except RPCError:
            return  # never started: nothing waits
        assert described.status is not None
        assert described.status.name == "TERMINATED"


async def synced_once(
    temporal: TemporalDevServer, kube_api: k8s.ApiClient, namespace: str
) -> tuple[Client, ScheduleHandle]:
    """Run the deployed ContactSync's sync now and wait until the operator reports it."""
    client = await Client.connect(temporal.address)
    schedule = client.get_schedule_handle(naming.sync_schedule_id(namespace, "deployed", EU))
    await trigger_when_created(schedule)
    eventually(lambda: reported_run(kube_api, namespace), timeout=90, what="a synced run")
    return client, schedule


async def trigger_when_created(schedule: ScheduleHandle) -> None:
    """Start a run now; the operator may still be creating the schedule after the Deployment."""
    deadline = time.monotonic() + 60
    while True:
        try:
            await schedule.trigger()
            return
        except RPCError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def _ready(port: str) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
