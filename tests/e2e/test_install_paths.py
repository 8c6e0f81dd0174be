"""Every way a platform team installs the operator without Helm managing it, each on a control
plane of the test's own that starts empty: no CRDs, no peering object, no egress policy."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.servers.kube import KubeControlPlane, running_control_plane
from tests.support import kubectl

pytestmark = [pytest.mark.kube]
ROOT = Path(__file__).parents[2]
CRDS = (
    "contactsyncs.contactsync.dev",
    "contactsyncegresspolicies.contactsync.dev",
    "clusterkopfpeerings.kopf.dev",
    "kopfpeerings.kopf.dev",
)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[KubeControlPlane]:
    """A control plane of the test's own, as a new cluster is: no CRD, no peering object.
    (Deleting CRDs to empty a shared one is slow and racy: a CRD applied a moment ago may not
    be deletable until its storage is initialized.)"""
    with running_control_plane(tmp_path / "kube") as fresh:
        assert not crds_present(fresh), "a new cluster has no CRDs"
        yield fresh


def crds_present(plane: KubeControlPlane) -> list[str]:
    names = kubectl(plane.admin_kubeconfig, "get", "crd", "-o", "name")
    return [line for line in names.split() if line.startswith("customresourcedefinition")]


def established(plane: KubeControlPlane) -> None:
    for crd in CRDS:
        kubectl(plane.admin_kubeconfig, "wait", "--for=condition=Established", f"crd/{crd}")


def render(helm: Path, *values: str) -> str:
    return subprocess.run(
        [
            str(helm),
            "template",
            "contactsync",
            str(ROOT / "helm" / "contactsync"),
            "--namespace=contactsync-system",
            *values,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_the_committed_kubectl_artifacts_are_what_the_chart_and_crds_render(
    helm_binary: Path, tmp_path: Path
) -> None:
    subprocess.run(
        [str(ROOT / "deploy" / "render.sh"), str(tmp_path)],
        env={"HELM": str(helm_binary), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=60,
    )
    for artifact in ("install.yaml", "crds.yaml", "argocd/argocd-cm-patch.yaml"):
        assert (tmp_path / artifact).read_text() == (ROOT / "deploy" / artifact).read_text(), (
            f"deploy/{artifact} is stale: run `make manifests`"
        )


def test_kubectl_apply_of_install_yaml_on_an_empty_cluster(plane: KubeControlPlane) -> None:
    admin = plane.admin_kubeconfig
    kubectl(admin, "apply", "--filename", str(ROOT / "deploy" / "install.yaml"))
    established(plane)
    deployment = yaml.safe_load(
        kubectl(admin, "get", "deployment", "contactsync", "-n", "contactsync-system", "-o", "yaml")
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "TEMPORAL_TLS_CA_FILE", "value": "/var/run/secrets/temporal-tls/ca.crt"} in (
        container["env"]
    )


def test_kubectl_apply_k_of_the_kustomize_base_and_of_crds(plane: KubeControlPlane) -> None:
    admin = plane.admin_kubeconfig
    kubectl(admin, "apply", "-k", str(ROOT / "crds"))
    established(plane)  # every CRD the operator needs, the peering ones included
    kubectl(admin, "apply", "-k", str(ROOT / "deploy"))
    kubectl(admin, "get", "deployment", "contactsync", "-n", "contactsync-system")


def test_helm_template_piped_to_kubectl_apply_on_an_empty_cluster(
    plane: KubeControlPlane, helm_binary: Path
) -> None:
    admin = plane.admin_kubeconfig
    kubectl(admin, "create", "namespace", "contactsync-system")
    rendered = render(helm_binary, "--set=temporal.plaintext=true")
    kubectl(admin, "apply", "--filename=-", stdin=rendered)
    established(plane)


def test_helm_install_with_crds_applied_from_the_repository(
    plane: KubeControlPlane, helm_binary: Path, tmp_path: Path
) -> None:
    """crds.install=false: the CRDs come from crds/ (a GitOps repository, another team)."""
    admin = plane.admin_kubeconfig
    kubectl(admin, "apply", "--server-side", "-k", str(ROOT / "crds"))
    established(plane)
    home = tmp_path / "helm"
    # Helm's own directories, and a HOME for the Kubernetes client's discovery cache (without
    # one it would write .kube/cache into the working directory, the checkout).
    helm_env = {
        "HOME": str(home),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [
            str(helm_binary),
            "install",
            "contactsync",
            str(ROOT / "helm" / "contactsync"),
            "--namespace=contactsync-system",
            "--create-namespace",
            "--set=crds.install=false",
            "--set=temporal.plaintext=true",
            "--set=replicaCount=1",
            f"--kubeconfig={admin}",
        ],
        env=helm_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    subprocess.run(
        [
            str(helm_binary),
            "uninstall",
            "contactsync",
            "--namespace=contactsync-system",
            "--no-hooks",  # no kubelet here runs the hook's Job; tests/e2e/cluster does
            "--wait",
            f"--kubeconfig={admin}",
        ],
        env=helm_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
