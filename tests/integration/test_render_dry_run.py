"""What ``contactsync render`` prints is accepted by a real API server as it stands.

Each example is rendered by the command itself (a subprocess, as a person runs it), and every
Kubernetes object is sent with ``kubectl apply --server-side --dry-run=server``, the way the
operator applies (server-side), so the API server validates and admits each one without
storing it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.corpus.manifests import EXAMPLES, example, example_names
from tests.servers.kube import KubeControlPlane
from tests.support import kubectl

pytestmark = pytest.mark.kube
ROOT = Path(__file__).parents[2]


def contactsync(*args: str, stdin: str | None = None) -> str:
    """This checkout's ``contactsync`` command; its stdout."""
    paths = [str(ROOT / part) for part in ("api", "cli", "operator", "worker")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-m", "contactsync_cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"contactsync {' '.join(args)}: {result.stderr}"
    return result.stdout


def objects(stream: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(stream) if d is not None]


def ensure_namespace(api: k8s.ApiClient, name: str) -> None:
    try:
        k8s.CoreV1Api(api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    except ApiException as exc:
        if exc.status != 409:  # already there: another test made it
            raise


def dry_run_apply(plane: KubeControlPlane, api: k8s.ApiClient, stream: str) -> list[str]:
    """Each object of ``stream`` through a server-side dry-run apply; the lines kubectl said."""
    sent = objects(stream)
    for namespace in {d["metadata"]["namespace"] for d in sent}:
        ensure_namespace(api, namespace)
    said = kubectl(
        plane.admin_kubeconfig,
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=contactsync-operator",
        "--filename=-",
        stdin=stream,
    )
    lines = [line for line in said.splitlines() if line.strip()]
    # "deployment.apps/NAME serverside-applied (server dry run)": kind, group, name.
    accepted = {
        (line.split("/")[0].split(".")[0], line.split("/")[1].split()[0])
        for line in lines
        if line.endswith("(server dry run)")
    }
    for document in sent:
        what = (document["kind"].lower(), document["metadata"]["name"])
        assert what in accepted, (what, said)
    return lines


@pytest.fixture(scope="module")
def crds(contactsync_crd: str, egress_policy_crd: str) -> tuple[str, str]:
    """Owner references name a ContactSync: its kind must be one the API server knows."""
    return contactsync_crd, egress_policy_crd


@pytest.mark.parametrize("name", example_names())
def test_every_object_rendered_for_an_example_is_accepted_by_the_api_server(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    crds: tuple[str, str],
    name: str,
) -> None:
    stream = contactsync("render", str(EXAMPLES / f"{name}.yaml"), "--only", "kubernetes")
    rendered = objects(stream)
    if not rendered:
        # Its one region has no encryption keys: the operator deploys nothing, nor does render.
        assert name == "quickstart"
        assert "nothing created (EncryptionNotConfigured)" in stream
        return
    lines = dry_run_apply(kube_control_plane, kube_api, stream)
    assert len(lines) == len(rendered)


def test_a_region_with_local_state_renders_an_accepted_volume_claim(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, crds: tuple[str, str]
) -> None:
    document = example("quickstart")
    document["spec"]["regions"][0]["encryption"] = {"keysSecretRef": {"name": "local-keys"}}
    namespace = f"render-{uuid.uuid4().hex[:8]}"
    stream = contactsync(
        "render",
        "-",
        "--only=kubernetes",
        f"--namespace={namespace}",
        stdin=yaml.safe_dump(document),
    )
    assert "PersistentVolumeClaim" in {d["kind"] for d in objects(stream)}
    dry_run_apply(kube_control_plane, kube_api, stream)


def test_network_policies_narrowed_by_an_egress_policy_are_accepted(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, crds: tuple[str, str]
) -> None:
    stream = contactsync(
        "render",
        str(EXAMPLES / "multi-region.yaml"),
        "--only=kubernetes",
        f"--egress-policy={EXAMPLES / 'egress' / 'hr-directory.yaml'}",
        "--namespace-label=team=hr",
    )
    narrowed = [d for d in objects(stream) if d["kind"] == "NetworkPolicy"]
    assert all(any("to" in rule for rule in d["spec"]["egress"]) for d in narrowed)
    dry_run_apply(kube_control_plane, kube_api, stream)


def test_rendered_from_the_stored_contactsync_the_owner_is_the_real_one(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, crds: tuple[str, str]
) -> None:
    """``kubectl get contactsync -o yaml | contactsync render -``: the owner reference carries the
    stored object's uid, and the API server accepts the objects with it."""
    namespace = f"render-{uuid.uuid4().hex[:8]}"
    ensure_namespace(kube_api, namespace)
    document = example("consent-retention")
    document["metadata"]["namespace"] = namespace
    admin = kube_control_plane.admin_kubeconfig
    kubectl(admin, "apply", "--server-side", "--filename=-", stdin=yaml.safe_dump(document))
    stored = kubectl(
        admin,
        "get",
        "contactsync",
        document["metadata"]["name"],
        f"--namespace={namespace}",
        "-o",
        "yaml",
    )
    uid = yaml.safe_load(stored)["metadata"]["uid"]
    stream = contactsync("render", "-", "--only=kubernetes", stdin=stored)
    rendered = objects(stream)
    assert rendered
    assert {d["metadata"]["ownerReferences"][0]["uid"] for d in rendered} == {uid}
    dry_run_apply(kube_control_plane, kube_api, stream)


def test_schedule_documents_are_refused_by_kubectl_not_stored(
    kube_control_plane: KubeControlPlane, crds: tuple[str, str]
) -> None:
    """They are for reading: no API group serves their kind, so an apply of the full stream
    fails on them instead of storing something nobody reads."""
    stream = contactsync("render", str(EXAMPLES / "multi-region.yaml"), "--only=schedules")
    assert {d["kind"] for d in objects(stream)} == {"TemporalSchedule"}
    said = kubectl(
        kube_control_plane.admin_kubeconfig,
        "apply",
        "--dry-run=server",
        "--filename=-",
        stdin=stream,
        check=False,
    )
    assert 'no matches for kind "TemporalSchedule" in version "contactsync.dev/render"' in said
