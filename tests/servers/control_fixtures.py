"""Session fixtures for the control planes: Kubernetes and Temporal."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.servers import toolchain
from tests.servers.kube import KubeControlPlane
from tests.servers.temporal import TemporalDevServer


@pytest.fixture(scope="session")
def kube_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeControlPlane]:
    plane = KubeControlPlane(tmp_path_factory.mktemp("kube"))
    try:
        yield plane.start()
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kube_api(kube_control_plane: KubeControlPlane) -> Iterator[k8s.ApiClient]:
    """An API client with cluster-admin rights, for the tests' own set-up and checks."""
    api = k8s_config.new_client_from_config(config_file=str(kube_control_plane.admin_kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    server = TemporalDevServer(tmp_path_factory.mktemp("temporal"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    return toolchain.built_binary("helm", toolchain.HELM_VERSION)


def established_crd(plane: KubeControlPlane, file_name: str, name: str) -> str:
    """A CRD from crds/, applied server-side and Established. Returns its name."""
    crd = Path(__file__).parents[2] / "crds" / file_name
    kubectl = str(toolchain.on_path("kubectl"))
    config = f"--kubeconfig={plane.admin_kubeconfig}"
    subprocess.run(
        [kubectl, config, "apply", "--server-side", f"--filename={crd}"], check=True, timeout=60
    )
    subprocess.run(
        [kubectl, config, "wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s"],
        check=True,
        timeout=90,
    )
    return name


@pytest.fixture(scope="session")
def contactsync_crd(kube_control_plane: KubeControlPlane) -> str:
    """The ContactSync CRD from crds/, applied server-side and Established. Returns its name."""
    return established_crd(kube_control_plane, "contactsync.yaml", "contactsyncs.contactsync.dev")


@pytest.fixture(scope="session")
def egress_policy_crd(kube_control_plane: KubeControlPlane) -> str:
    """The ContactSyncEgressPolicy CRD from crds/, applied like contactsync_crd."""
    return established_crd(
        kube_control_plane,
        "contactsyncegresspolicy.yaml",
        "contactsyncegresspolicies.contactsync.dev",
    )
