"""Fixtures of the end-to-end tests: Nodes in three regions, the operator's identity,
a Temporal of each module's own, and the operator process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client as k8s

from tests.e2e.operator_env import (
    OWN_EGRESS_POLICY,
    OperatorRun,
    create_egress_policy,
    install_operator_identity,
    nodes_in_regions,
)
from tests.servers.kube import KubeControlPlane
from tests.servers.temporal import TemporalDevServer

EU, US, AP = "eu-central-1", "us-east-1", "ap-south-1"
NAMESPACES = {EU: "contacts-eu", US: "contacts-us"}


@pytest.fixture(scope="session")
def region_nodes(kube_api: k8s.ApiClient) -> dict[str, set[str]]:
    return nodes_in_regions(kube_api, {EU: 2, US: 2, AP: 2})


@pytest.fixture(scope="session")
def open_egress_policy(kube_api: k8s.ApiClient, egress_policy_crd: str) -> str:
    """What a platform admin does before any worker can run: a ContactSyncEgressPolicy. This
    one lets workers reach every address (the test servers listen on loopback), in every
    namespace but those labelled OWN_EGRESS_POLICY, which bring their own or none."""
    name = "e2e-everywhere"
    create_egress_policy(
        kube_api,
        name,
        {"matchExpressions": [{"key": OWN_EGRESS_POLICY, "operator": "DoesNotExist"}]},
        [{"cidr": "0.0.0.0/0"}, {"cidr": "::/0"}],
    )
    return name


@pytest.fixture(scope="session")
def operator_kubeconfig(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    contactsync_crd: str,
    open_egress_policy: str,
    helm_binary: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A kubeconfig with only the operator ServiceAccount's token, RBAC from the chart; the
    cluster has the CRDs and an egress policy, as the chart leaves it."""
    workdir = tmp_path_factory.mktemp("operator-identity")
    kubeconfig, _ = install_operator_identity(kube_control_plane, kube_api, helm_binary, workdir)
    return kubeconfig


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalDevServer]:
    """A Temporal of this module's own, so a test may stop and restart it."""
    server = TemporalDevServer(
        tmp_path_factory.mktemp("e2e-temporal"), namespaces=tuple(NAMESPACES.values())
    )
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def operator(
    operator_kubeconfig: Path,
    temporal: TemporalDevServer,
    region_nodes: dict[str, set[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorRun]:
    run = OperatorRun(operator_kubeconfig, temporal.address, tmp_path_factory.mktemp("operator"))
    try:
        yield run.start()
    finally:
        run.stop()
