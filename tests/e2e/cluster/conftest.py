"""A real cluster on this machine: the control plane, one kubelet node running the project's
image, and the servers the pods dial (Temporal, Radicale) on the pod network's host address."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.servers.kube import KubeControlPlane
from tests.servers.node import HOST_ADDRESS, WORKDIR_MARK, RealNode
from tests.servers.radicale import RadicaleServer, running_radicale
from tests.servers.temporal import TemporalDevServer

ROOT = Path(__file__).parents[3]
NODE_REGION = "eu-central-1"
WORKER_UID = 10001  # the image's USER


@dataclass
class Cluster:
    plane: KubeControlPlane
    node: RealNode
    api: k8s.ApiClient
    image_build_seconds: float

    @property
    def kubeconfig(self) -> Path:
        return self.plane.admin_kubeconfig


def provide_volumes(api: k8s.ApiClient, node: RealNode, count: int) -> None:
    """What a storage admin provides: PersistentVolumes (here hostPath directories on the node,
    owned by the image's UID) for the state claims of regions without PostgreSQL."""
    core = k8s.CoreV1Api(api)
    for n in range(count):
        path = node.workdir / "volumes" / f"state-{n}"
        path.mkdir(parents=True)
        os.chown(path, WORKER_UID, WORKER_UID)
        core.create_persistent_volume(
            k8s.V1PersistentVolume(
                metadata=k8s.V1ObjectMeta(name=f"state-{n}"),
                spec=k8s.V1PersistentVolumeSpec(
                    capacity={"storage": "1Gi"},
                    access_modes=["ReadWriteOnce"],
                    host_path=k8s.V1HostPathVolumeSource(path=str(path), type="Directory"),
                    persistent_volume_reclaim_policy="Retain",
                ),
            )
        )


@pytest.fixture(scope="session")
def project_image() -> tuple[Path, float]:
    """The image `docker build .` makes, built here by tests/env/build-image.sh (cached by its
    inputs outside the clone). Returns the docker-archive and the seconds the call took."""
    started = time.monotonic()
    result = subprocess.run(
        [str(ROOT / "tests" / "env" / "build-image.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert result.returncode == 0, f"the image did not build:\n{result.stderr[-4000:]}"
    return Path(result.stdout.strip().splitlines()[-1]), time.monotonic() - started


# Module scope: the node's containerd and kubelet stop as soon as the tests that need them end.
@pytest.fixture(scope="module")
def cluster(
    project_image: tuple[Path, float], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    tarball, build_seconds = project_image
    plane = KubeControlPlane(tmp_path_factory.mktemp("cluster-plane"), host=HOST_ADDRESS)
    node = RealNode(plane, tmp_path_factory.mktemp(WORKDIR_MARK), NODE_REGION)
    node.prepare()
    try:
        plane.start()
        node.start((tarball,))
        api = k8s_config.new_client_from_config(config_file=str(plane.admin_kubeconfig))
        with api:
            provide_volumes(api, node, count=6)
            yield Cluster(plane, node, api, build_seconds)
    finally:
        node.stop()
        plane.stop()


@pytest.fixture(scope="module")
def cluster_temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    """Temporal on loopback, a module's own so a test may stop and restart it; pods reach it
    at ``pod_temporal_address``."""
    server = TemporalDevServer(tmp_path_factory.mktemp("cluster-temporal"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pod_temporal_address(cluster: Cluster, cluster_temporal: TemporalDevServer) -> str:
    assert cluster.node.network is not None
    return cluster.node.network.expose(cluster_temporal.port)


@pytest.fixture(scope="module")
def cluster_radicale(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RadicaleServer]:
    """Radicale where pods reach it (the cluster made the pod network's host address)."""
    with running_radicale(tmp_path_factory.mktemp("cluster-radicale"), host=HOST_ADDRESS) as dav:
        yield dav
