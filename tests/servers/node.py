"""A real Kubernetes node on this machine: containerd, a kubelet and kube-proxy, pods on a bridge.

Pods run from images imported into containerd; nothing can be pulled. They sit on a bridge
whose host address (``HOST_ADDRESS``) is where the servers they need listen. A pod has a route
to the bridge and to the Service range and none beyond, and IP forwarding is left off, so a
pod reaches addresses on this machine only. kube-proxy turns the ``kubernetes`` Service into
the API server on the host address, as in any cluster.

The kubelet, containerd and kube-proxy change host state (mounts, cgroups, iptables, sysctls,
a bridge). ``stop()`` puts it back in the order that lets each piece clean up after itself:
delete pods, stop the kubelet, remove what containers remain, stop containerd, unmount,
delete the bridge, remove cgroups. One node runs on a machine at a time (a lock file).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.servers import toolchain
from tests.servers.kube import KubeControlPlane, write_kubeconfig
from tests.servers.pki import issue
from tests.servers.process import ManagedProcess, free_port, wait_until

BRIDGE = "csync0"
POD_SUBNET = "10.213.0.0/24"
HOST_ADDRESS = "10.213.0.1"
SERVICE_RANGE = "10.0.0.0/24"  # the API server's --service-cluster-ip-range
PAUSE_IMAGE = f"localhost/contactsync-test/pause:{toolchain.KUBERNETES_VERSION}"
REGION_LABEL = "topology.kubernetes.io/region"
CNI_BIN = "/usr/lib/cni"
# nat chain that makes loopback-only servers reachable from pods (PodNetwork.expose).
_EXPOSE_CHAIN = "CONTACTSYNC-TEST-EXPOSE"

_LOCK = Path("/run/contactsync-test-node.lock")
# What the host looked like before the first node started; kept until a stop() restores it,
# so a session killed mid-way is repaired by the next one.
_HOST_RECORD = Path("/run/contactsync-test-node.json")
# Every node's workdir has this in its name: leftovers of a killed session are found by it.
WORKDIR_MARK = "contactsync-node"
# The kubelet sets these at start (protectKernelDefaults off); stop() sets them back.
_HOST_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/ip_forward",
    "net/ipv4/conf/all/route_localnet",
)
_FIXED_PATHS = (Path("/var/lib/kubelet"), Path("/run/containerd"))
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def run(*argv: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


class NodeUnavailable(RuntimeError):
    """This machine cannot run the node; the message says what is missing."""


def check_host() -> None:
    """Fail with a clear message when a piece the node needs is not installed."""
    missing = [
        tool
        for tool in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "ip")
        if not _which(tool)
    ]
    missing += [
        f"{CNI_BIN}/{p}"
        for p in ("bridge", "host-local", "loopback")
        if not Path(CNI_BIN, p).exists()
    ]
    if os.geteuid() != 0:
        missing.append("root (the kubelet and containerd need it)")
    if missing:
        raise NodeUnavailable(f"the test node needs {', '.join(missing)}: run tests/env/setup.sh")


def _which(tool: str) -> bool:
    return (
        shutil.which(tool, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))
        is not None
    )


@dataclass
class PodNetwork:
    """The bridge pods attach to, and the CNI configuration that puts them there."""

    workdir: Path

    @property
    def conf_dir(self) -> Path:
        return self.workdir / "net.d"

    def create(self) -> None:
        self.delete()  # a bridge a killed session left behind
        run("ip", "link", "add", BRIDGE, "type", "bridge")
        run("ip", "addr", "add", f"{HOST_ADDRESS}/24", "dev", BRIDGE)
        run("ip", "link", "set", BRIDGE, "up")
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": "contactsync-test",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    # No gateway: the plugin would turn IP forwarding on and give pods a
                    # default route. Pods get the two routes they need and nothing else.
                    "isGateway": False,
                    "ipMasq": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET, "rangeStart": "10.213.0.10"}]],
                        "routes": [{"dst": SERVICE_RANGE, "gw": HOST_ADDRESS}],
                        "dataDir": str(self.workdir / "ipam"),
                    },
                }
            ],
        }
        (self.conf_dir / "10-contactsync-test.conflist").write_text(json.dumps(conflist))

    def expose(self, port: int) -> str:
        """Make a server that listens on 127.0.0.1:``port`` reachable from pods, at the host
        address: a DNAT rule for traffic from the bridge only. (The Temporal dev server cannot
        listen on the bridge itself: its services then dial each other on loopback and fail.)
        Returns the address pods dial."""
        if run("iptables", "-t", "nat", "-n", "-L", _EXPOSE_CHAIN, check=False) == "":
            run("iptables", "-t", "nat", "-N", _EXPOSE_CHAIN)
            run("iptables", "-t", "nat", "-I", "PREROUTING", "-i", BRIDGE, "-j", _EXPOSE_CHAIN)
            # Loopback destinations are routable from this interface only; the setting goes
            # away with the bridge.
            _write_sysctl(f"net/ipv4/conf/{BRIDGE}/route_localnet", "1")
        run(
            "iptables", "-t", "nat", "-A", _EXPOSE_CHAIN, "-d", HOST_ADDRESS, "-p", "tcp",
            "--dport", str(port), "-j", "DNAT", "--to-destination", f"127.0.0.1:{port}",
        )  # fmt: skip
        return f"{HOST_ADDRESS}:{port}"

    def delete(self) -> None:
        run(
            "iptables",
            "-t",
            "nat",
            "-D",
            "PREROUTING",
            "-i",
            BRIDGE,
            "-j",
            _EXPOSE_CHAIN,
            check=False,
        )
        run("iptables", "-t", "nat", "-F", _EXPOSE_CHAIN, check=False)
        run("iptables", "-t", "nat", "-X", _EXPOSE_CHAIN, check=False)
        if Path(f"/sys/class/net/{BRIDGE}").exists():
            run("ip", "link", "del", BRIDGE, check=False)


@dataclass
class Containerd:
    """containerd with its CRI plugin, on its own root, state and socket under ``workdir``."""

    workdir: Path
    cni_conf_dir: Path
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.workdir / "containerd.sock"

    def start(self, timeout: float = 60) -> Containerd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        config = f"""\
version = 2
root = "{self.workdir / "root"}"
state = "{self.workdir / "state"}"
[grpc]
  address = "{self.socket}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # This machine withholds CAP_SYS_RESOURCE: runc may not lower oom_score_adj.
  restrict_oom_score_adj = true
  enable_selinux = false
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{self.cni_conf_dir}"
"""
        path = self.workdir / "config.toml"
        path.write_text(config)
        self.process = ManagedProcess(
            "containerd", ["containerd", f"--config={path}"], self.workdir / "containerd.log"
        ).start()
        wait_until(
            lambda: self.ctr("version", timeout=5) != "",
            timeout=timeout,
            what="containerd",
            process=self.process,
        )
        return self

    def ctr(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        return run(
            "ctr",
            f"--address={self.socket}",
            "--namespace=k8s.io",
            *args,
            timeout=timeout,
            check=check,
        )

    def import_image(self, tarball: Path) -> None:
        self.ctr("images", "import", "--no-unpack=false", str(tarball), timeout=300)

    def remove_all(self) -> None:
        """Kill and delete every task and container it still has."""
        for task in self.ctr("tasks", "list", "--quiet", check=False).split():
            self.ctr("tasks", "kill", "--signal=SIGKILL", task, check=False)
        for task in self.ctr("tasks", "list", "--quiet", check=False).split():
            self.ctr("tasks", "delete", "--force", task, check=False)
        for container in self.ctr("containers", "list", "--quiet", check=False).split():
            self.ctr("containers", "delete", container, check=False)

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            self.remove_all()
        self.process.stop()


@dataclass
class RealNode:
    """One kubelet node in ``region``, joined to ``plane``; pods run from imported images."""

    plane: KubeControlPlane
    workdir: Path
    region: str
    name: str = ""
    processes: list[ManagedProcess] = field(default_factory=list)
    containerd: Containerd | None = None
    network: PodNetwork | None = None
    _lock: IO[str] | None = field(default=None, repr=False)
    kubelet_started_in: float = 0.0

    def prepare(self) -> RealNode:
        """Take the machine's node lock and make the pod network. Call it before starting the
        control plane: the API server listens on the network's host address."""
        check_host()
        self.name = self.name or f"node-{self.region}"
        self._lock = _LOCK.open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise NodeUnavailable(f"another test node runs on this machine ({_LOCK})") from None
        assert WORKDIR_MARK in str(self.workdir), f"a node's workdir is named {WORKDIR_MARK}*"
        if _HOST_RECORD.exists():
            _restore_host()  # a session before this one was killed before its stop()
        _HOST_RECORD.write_text(
            json.dumps(
                {
                    "sysctls": {name: _read_sysctl(name) for name in _HOST_SYSCTLS},
                    "absent": [str(p) for p in _FIXED_PATHS if not p.exists()],
                }
            )
        )
        self.network = PodNetwork(self.workdir / "cni")
        self.network.create()
        return self

    def start(self, images: tuple[Path, ...], timeout: float = 120) -> RealNode:
        """Start containerd with ``images`` imported, the kubelet and kube-proxy."""
        assert self.network is not None, "prepare() first"
        assert self.plane.pki is not None
        assert self.plane.host == HOST_ADDRESS
        self.containerd = Containerd(self.workdir / "containerd", self.network.conf_dir)
        self.containerd.start()
        for tarball in (_pause_image(), *images):
            self.containerd.import_image(tarball)
        started = time.monotonic()
        self._grant_node_rights()
        self._spawn_kubelet()
        self._wait_ready(timeout)
        self.kubelet_started_in = time.monotonic() - started
        self._spawn_kube_proxy()
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._delete_pods()
        for process in reversed(self.processes):
            process.stop()
        if self.containerd is not None:
            self.containerd.stop()
        _restore_host()
        if self._lock is not None:
            self._lock.close()

    # --- the pieces ---------------------------------------------------------------------

    def _binary(self, name: str) -> Path:
        return toolchain.built_binary(name, toolchain.KUBERNETES_VERSION)

    def _grant_node_rights(self) -> None:
        """The test API server authorizes with RBAC only (no Node authorizer): bind the
        bootstrap ``system:node`` role to the nodes group, as clusters without it do."""
        api = k8s_config.new_client_from_config(config_file=str(self.plane.admin_kubeconfig))
        with api:
            rbac = k8s.RbacAuthorizationV1Api(api)
            body = k8s.V1ClusterRoleBinding(
                metadata=k8s.V1ObjectMeta(name="contactsync-test:nodes"),
                role_ref=k8s.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="system:node"
                ),
                subjects=[
                    k8s.RbacV1Subject(
                        api_group="rbac.authorization.k8s.io", kind="Group", name="system:nodes"
                    )
                ],
            )
            with contextlib.suppress(k8s.ApiException):
                rbac.create_cluster_role_binding(body)

    def _spawn_kubelet(self) -> None:
        assert self.plane.pki is not None
        assert self.containerd is not None
        pki, ca = self.workdir / "pki", self.plane.pki.ca
        identity = issue(
            ca, pki, "kubelet-client", f"system:node:{self.name}", "system:nodes", client=True
        )
        serving = issue(
            ca, pki, "kubelet-serving", self.name, server_names=(HOST_ADDRESS, self.name)
        )
        kubeconfig = write_kubeconfig(
            self.workdir / "kubelet.kubeconfig", self.plane.server, ca.cert, identity, self.name
        )
        endpoint = f"unix://{self.containerd.socket}"
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": HOST_ADDRESS,
            "port": free_port(),
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": free_port(),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(ca.cert)},
            },
            "authorization": {"mode": "Webhook"},
            "tlsCertFile": str(serving.cert),
            "tlsPrivateKeyFile": str(serving.key),
            "containerRuntimeEndpoint": endpoint,
            "imageServiceEndpoint": endpoint,
            # This machine has cgroup v1 only and no systemd.
            "failCgroupV1": False,
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            "podLogsDir": str(self.workdir / "pod-logs"),
            "resolvConf": "/etc/resolv.conf",
            "maxPods": 30,
            # Never evict or garbage-collect the imported images: they cannot be pulled again.
            "imageGCHighThresholdPercent": 100,
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "1%",
                "imagefs.available": "1%",
                "nodefs.inodesFree": "1%",
            },
            "shutdownGracePeriod": "0s",
            "registerNode": True,
        }
        path = self.workdir / "kubelet.yaml"
        path.write_text(yaml.safe_dump(config))
        self._spawn(
            "kubelet",
            [
                f"--config={path}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.workdir / 'kubelet'}",
                f"--cert-dir={pki}",
                f"--hostname-override={self.name}",
                f"--node-ip={HOST_ADDRESS}",
                f"--node-labels={REGION_LABEL}={self.region},topology.kubernetes.io/zone={self.region}-a",
                "--v=1",
            ],
        )

    @property
    def _kube_proxy_config(self) -> Path:
        return self.workdir / "kube-proxy.yaml"

    def _spawn_kube_proxy(self) -> None:
        assert self.plane.pki is not None
        ca = self.plane.pki.ca
        identity = issue(ca, self.workdir / "pki", "kube-proxy", "system:kube-proxy", client=True)
        kubeconfig = write_kubeconfig(
            self.workdir / "kube-proxy.kubeconfig",
            self.plane.server,
            ca.cert,
            identity,
            "kube-proxy",
        )
        config = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
            "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(kubeconfig)},
            "mode": "iptables",
            "hostnameOverride": self.name,
            "clusterCIDR": POD_SUBNET,
            "healthzBindAddress": f"127.0.0.1:{free_port()}",
            "metricsBindAddress": f"127.0.0.1:{free_port()}",
            "nodePortAddresses": [f"{HOST_ADDRESS}/32"],
            # Leave the host's conntrack limits and loopback routing as they are.
            "conntrack": {
                "maxPerCore": 0,
                "min": 0,
                "tcpEstablishedTimeout": "0s",
                "tcpCloseWaitTimeout": "0s",
            },
            "iptables": {"localhostNodePorts": False, "masqueradeAll": False, "syncPeriod": "5s"},
        }
        self._kube_proxy_config.write_text(yaml.safe_dump(config))
        self._spawn("kube-proxy", [f"--config={self._kube_proxy_config}", "--v=1"])

    def _spawn(self, name: str, args: list[str]) -> ManagedProcess:
        process = ManagedProcess(
            name, [str(self._binary(name)), *args], self.workdir / "logs" / f"{name}.log"
        ).start()
        self.processes.append(process)
        return process

    def _wait_ready(self, timeout: float) -> None:
        api = k8s_config.new_client_from_config(config_file=str(self.plane.admin_kubeconfig))
        core = k8s.CoreV1Api(api)

        def ready() -> bool:
            node = core.read_node(self.name)
            conditions = (node.status.conditions if node.status else None) or []
            return any(c.type == "Ready" and c.status == "True" for c in conditions)

        try:
            wait_until(
                ready, timeout=timeout, what=f"node {self.name} Ready", process=self.processes[-1]
            )
        finally:
            api.close()

    def _delete_pods(self, timeout: float = 60) -> None:
        """Delete every pod on the node and wait until the kubelet has stopped its containers."""
        api = k8s_config.new_client_from_config(config_file=str(self.plane.admin_kubeconfig))
        with api:
            core = k8s.CoreV1Api(api)
            selector = f"spec.nodeName={self.name}"
            for pod in core.list_pod_for_all_namespaces(field_selector=selector).items:
                meta = pod.metadata
                if meta is None or not meta.name or not meta.namespace:
                    continue
                with contextlib.suppress(k8s.ApiException):
                    core.delete_namespaced_pod(meta.name, meta.namespace, grace_period_seconds=0)
        assert self.containerd is not None
        deadline = time.monotonic() + timeout
        while (
            time.monotonic() < deadline
            and self.containerd.ctr("tasks", "list", "--quiet", check=False).strip()
        ):
            time.sleep(0.5)


def _restore_host() -> None:
    """Undo what a node did to this machine, whether its session stopped it or was killed."""
    for pid, argv in _processes():
        # A shim whose containerd is gone: its socket is under a node's workdir.
        if "containerd-shim" in argv and WORKDIR_MARK in argv:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    _unmount_marked()
    PodNetwork(Path("/nonexistent")).delete()
    _remove_pod_cgroups()
    proxy = toolchain.bin_dir() / f"kube-proxy-{toolchain.KUBERNETES_VERSION}"
    if proxy.exists():
        run(str(proxy), "--cleanup", check=False)
    _remove_kubelet_chains()
    if _HOST_RECORD.exists():
        record = json.loads(_HOST_RECORD.read_text())
        for name, value in record["sysctls"].items():
            with contextlib.suppress(OSError):
                _write_sysctl(name, value)
        for path in record["absent"]:
            run("rm", "-rf", path, check=False)
        _HOST_RECORD.unlink()


def _remove_kubelet_chains() -> None:
    """The chains the kubelet itself adds (kube-proxy --cleanup removes kube-proxy's)."""
    for iptables in ("iptables", "ip6tables"):
        for hook in ("INPUT", "OUTPUT"):
            run(iptables, "-t", "filter", "-D", hook, "-j", "KUBE-FIREWALL", check=False)
        run(iptables, "-t", "filter", "-F", "KUBE-FIREWALL", check=False)
        for table, chain in (
            ("filter", "KUBE-FIREWALL"),
            ("filter", "KUBE-KUBELET-CANARY"),
            ("nat", "KUBE-KUBELET-CANARY"),
            ("mangle", "KUBE-KUBELET-CANARY"),
            ("mangle", "KUBE-IPTABLES-HINT"),
        ):
            run(iptables, "-t", table, "-X", chain, check=False)


def _pause_image() -> Path:
    script = Path(__file__).parents[1] / "env" / "build-pause-image.sh"
    out = run(str(script), toolchain.KUBERNETES_VERSION, timeout=300)
    return Path(out.strip().splitlines()[-1])


def _read_sysctl(name: str) -> str:
    try:
        return Path("/proc/sys", name).read_text().strip()
    except OSError:
        return ""


def _write_sysctl(name: str, value: str) -> None:
    if value and _read_sysctl(name) != value:
        Path("/proc/sys", name).write_text(value)


def _processes() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                argv = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                found.append((int(entry.name), argv))
    return found


def _unmount_marked() -> None:
    """Unmount everything the kubelet and containerd mounted in a node's workdir, deepest
    first: the kubelet's bind mount of its root, volumes, container root filesystems."""
    for _ in range(3):  # a bind mount may hide another one below it
        mounts = {
            line.split()[4]
            for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if WORKDIR_MARK in line.split()[4]
        }
        if not mounts:
            return
        for mount in sorted(mounts, key=len, reverse=True):
            run("umount", "--lazy", mount, check=False)


def _remove_pod_cgroups() -> None:
    """Remove the kubepods hierarchy the kubelet made (cgroupfs driver), leaves first."""
    if not _CGROUP_ROOT.is_dir():
        return
    # cgroup v1 has a hierarchy per controller; v2 one, at the root.
    for controller in (_CGROUP_ROOT, *_CGROUP_ROOT.iterdir()):
        top = controller / "kubepods"
        if not top.is_dir():
            continue
        for directory in sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            with contextlib.suppress(OSError):
                directory.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()
