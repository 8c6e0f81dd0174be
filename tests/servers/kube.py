"""A real Kubernetes control plane on loopback: etcd, API server, controller manager, scheduler.

On its own it has no kubelet: Pods are scheduled onto Node objects the tests create, but
never run. Neither the node-lifecycle controller nor the admission plugin that
taints new Nodes not-ready is on, so those Nodes stay schedulable. ``tests/servers/node.py``
adds a real node; the API server then listens on the pod network's host address (``host``)
so pods reach it, and talks to that node's kubelet with its own client certificate.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from tests.servers import toolchain
from tests.servers.pki import CertPair, ControlPlanePki, make_control_plane_pki
from tests.servers.process import ManagedProcess, free_port, wait_until

SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
_CLIENTS = {
    "admin": ("contactsync-test-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    # The API server's identity towards kubelets (logs, exec): the kubelet asks the API server
    # whether this user may, and system:masters may.
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
}


def write_kubeconfig(path: Path, server: str, ca: Path, client: CertPair | str, user: str) -> Path:
    """A kubeconfig for a client certificate, or for a bearer token when ``client`` is a str."""
    credentials = (
        {"token": client}
        if isinstance(client, str)
        else {"client-certificate": str(client.cert), "client-key": str(client.key)}
    )
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": server, "certificate-authority": str(ca)}}
        ],
        "users": [{"name": user, "user": credentials}],
        "contexts": [{"name": "local", "context": {"cluster": "local", "user": user}}],
        "current-context": "local",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


@dataclass
class KubeControlPlane:
    """The running control plane; ``admin_kubeconfig`` has cluster-admin rights."""

    workdir: Path
    host: str = "127.0.0.1"
    server: str = ""
    admin_kubeconfig: Path = field(default_factory=Path)
    pki: ControlPlanePki | None = None
    # Appended to the API server's own (an audit log, say); a later flag overrides an earlier.
    apiserver_args: tuple[str, ...] = ()
    processes: list[ManagedProcess] = field(default_factory=list)

    def start(self, timeout: float = 120.0) -> KubeControlPlane:
        pki = make_control_plane_pki(self.workdir / "pki", _CLIENTS, host=self.host)
        self.pki = pki
        etcd_url = self._start_etcd(timeout)
        port = free_port()
        self.server = f"https://{self.host}:{port}"
        self.admin_kubeconfig = write_kubeconfig(
            self.workdir / "admin.kubeconfig",
            self.server,
            pki.ca.cert,
            pki.clients["admin"],
            "admin",
        )
        apiserver = self._spawn("kube-apiserver", self._apiserver_args(etcd_url, port, pki))
        wait_until(self._ready, timeout=timeout, what="kube-apiserver /readyz", process=apiserver)
        for component in ("controller-manager", "scheduler"):
            kubeconfig = write_kubeconfig(
                self.workdir / f"{component}.kubeconfig",
                self.server,
                pki.ca.cert,
                pki.clients[component],
                component,
            )
            self._spawn(f"kube-{component}", self._component_args(component, kubeconfig, pki))
        return self

    def token_kubeconfig(self, path: Path, token: str, user: str) -> Path:
        """A kubeconfig that authenticates with a ServiceAccount token only."""
        assert self.pki is not None
        return write_kubeconfig(path, self.server, self.pki.ca.cert, token, user)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()

    def process(self, name: str) -> ManagedProcess:
        return next(p for p in self.processes if p.name == name)

    def _spawn(self, name: str, args: list[str]) -> ManagedProcess:
        binary = toolchain.built_binary(name, _version_of(name))
        process = ManagedProcess(
            name, [str(binary), *args], self.workdir / "logs" / f"{name}.log"
        ).start()
        self.processes.append(process)
        return process

    def _start_etcd(self, timeout: float) -> str:
        client_port, peer_port = free_port(), free_port()
        client_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        etcd = self._spawn(
            "etcd",
            [
                "--name=default",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                # The data lives for one test session; durability buys nothing here.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        wait_until(
            lambda: httpx.get(f"{client_url}/health", timeout=2).json()["health"] == "true",
            timeout=timeout,
            what="etcd /health",
            process=etcd,
        )
        return client_url

    def _apiserver_args(self, etcd_url: str, port: int, pki: ControlPlanePki) -> list[str]:
        return [
            f"--etcd-servers={etcd_url}",
            f"--bind-address={self.host}",
            f"--advertise-address={self.host}",
            f"--secure-port={port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.apiserver.cert}",
            f"--tls-private-key-file={pki.apiserver.key}",
            f"--client-ca-file={pki.ca.cert}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={pki.service_account_pub}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=false",
            # A kubelet registers its pod-network address as InternalIP; there is no DNS here.
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki.ca.cert}",
            f"--kubelet-client-certificate={pki.clients['apiserver-kubelet-client'].cert}",
            f"--kubelet-client-key={pki.clients['apiserver-kubelet-client'].key}",
            # Without a kubelet nothing would ever clear the not-ready taint this plugin sets
            # on new Nodes; the tests' Nodes are declared ready by the tests themselves.
            "--disable-admission-plugins=TaintNodesByCondition",
            "--profiling=false",
            "--v=1",
            *self.apiserver_args,
        ]

    def _component_args(self, component: str, kubeconfig: Path, pki: ControlPlanePki) -> list[str]:
        common = [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--leader-elect=false",
            "--v=1",
        ]
        if component == "scheduler":
            return common
        return [
            *common,
            # Nodes here have no kubelet; this controller would taint them unreachable.
            "--controllers=*,-node-lifecycle-controller",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca.cert}",
            f"--cluster-signing-cert-file={pki.ca.cert}",
            f"--cluster-signing-key-file={pki.ca.key}",
        ]

    def _ready(self) -> bool:
        assert self.pki is not None
        admin = self.pki.clients["admin"]
        context = ssl.create_default_context(cafile=str(self.pki.ca.cert))
        context.load_cert_chain(str(admin.cert), str(admin.key))
        response = httpx.get(f"{self.server}/readyz", verify=context, timeout=5)
        return response.status_code == 200


def _version_of(name: str) -> str:
    return toolchain.ETCD_VERSION if name == "etcd" else toolchain.KUBERNETES_VERSION


@contextmanager
def running_control_plane(workdir: Path) -> Iterator[KubeControlPlane]:
    plane = KubeControlPlane(workdir)
    try:
        yield plane.start()
    finally:
        plane.stop()
