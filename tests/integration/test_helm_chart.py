"""The Helm chart in a real cluster: installs, upgrades its CRDs, runs restricted, asks for little.

Pods never run here (no kubelet), so nothing waits for the operator to be ready: the tests
check what the chart creates and what the API server admits and authorizes.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import tarfile
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from contactsync_api.egress_policy import parse_egress_policy
from contactsync_api.manifest import parse_contact_sync
from contactsync_operator.default_egress import parse_default_policy
from contactsync_operator.egress_selection import region_egress
from contactsync_operator.settings import settings_from_env
from contactsync_worker.egress import refusal
from tests.servers import toolchain
from tests.servers.kube import KubeControlPlane
from tests.servers.process import wait_until

pytestmark = pytest.mark.kube

ROOT = Path(__file__).parents[2]
CHART = ROOT / "helm" / "contactsync"
CONTACTSYNC_CRD = "contactsyncs.contactsync.dev"
EGRESS_CRD = "contactsyncegresspolicies.contactsync.dev"
PEERING_CRDS = ("clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev")
CHART_CRDS = (CONTACTSYNC_CRD, EGRESS_CRD, *PEERING_CRDS)
EGRESS = "ContactSyncEgressPolicy"
EGRESS_POLICIES = ("contactsync.dev", "v1alpha1", "contactsyncegresspolicies")
# settings.py reads the environment through env.get("NAME") / _path(env, "NAME") calls.
SETTINGS_VARIABLE = re.compile(r"""["']((?:TEMPORAL|CONTACTSYNC)_[A-Z_]+)["']""")

CHILD = frozenset({"get", "list", "watch", "create", "patch", "delete"})
PEERING = frozenset({"get", "list", "watch", "create", "patch"})
READ = frozenset({"get", "list", "watch"})
CRD_SCAN = {"customresourcedefinitions.apiextensions.k8s.io": frozenset({"list", "watch"})}
# Cluster-scoped in either mode: the platform's egress policies, read, and the default one made
# at start (egressPolicy.create).
CLUSTER_READS = {**CRD_SCAN, "contactsyncegresspolicies.contactsync.dev": READ | {"create"}}
IN_WATCHED_NAMESPACE = {
    "contactsyncs.contactsync.dev": frozenset({"get", "list", "watch", "patch", "update"}),
    "contactsyncs.contactsync.dev/status": frozenset({"get", "patch", "update"}),
    "serviceaccounts": CHILD,
    "configmaps": CHILD,
    "persistentvolumeclaims": CHILD,
    "deployments.apps": CHILD,
    "poddisruptionbudgets.policy": CHILD,
    "networkpolicies.networking.k8s.io": CHILD,
    "secrets": frozenset({"get"}),
    "events": frozenset({"create", "patch"}),
    "events.events.k8s.io": frozenset({"create", "patch"}),
}
CLUSTER_WIDE = {
    **IN_WATCHED_NAMESPACE,
    **CLUSTER_READS,
    "clusterkopfpeerings.kopf.dev": PEERING,
    "namespaces": READ,
}
NAMESPACED_WATCHED = {**IN_WATCHED_NAMESPACE, **CLUSTER_READS, "kopfpeerings.kopf.dev": PEERING}


def run(
    *argv: str | Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )


def kubectl(kubeconfig: Path, *args: str) -> str:
    result = run(toolchain.on_path("kubectl"), f"--kubeconfig={kubeconfig}", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


TEMPORAL_PEERS = [
    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "temporal"}}},
    {"ipBlock": {"cidr": "10.40.0.0/16"}},
]
RENDERS = frozenset({"template", "install", "upgrade", "lint"})
DEVELOPMENT = "--set=temporal.plaintext=true"
TEMPORAL_CHOICES = ("temporal.tls", "temporal.apiKey", "temporal.plaintext")


@dataclass(frozen=True)
class Helm:
    binary: Path
    kubeconfig: Path
    home: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        # Its own cache and config directories: nothing read from or left in the user's home.
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        chose = any(choice in arg for arg in args for choice in TEMPORAL_CHOICES)
        if args and args[0] in RENDERS and not chose:
            # The test Temporal has no TLS: the chart's development setting, said out loud.
            args = (*args, DEVELOPMENT)
        return run(self.binary, *args, f"--kubeconfig={self.kubeconfig}", env=env)

    def ok(self, *args: str) -> str:
        result = self(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def render(self, *args: str) -> list[dict[str, Any]]:
        rendered = self.ok("template", "render-test", str(CHART), "--namespace=ops", *args)
        return [d for d in yaml.safe_load_all(rendered) if d]


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str

    @property
    def fullname(self) -> str:
        return f"{self.name}-contactsync"


def plain(api: k8s.ApiClient, obj: object) -> dict[str, Any]:
    """A client model as the API's own JSON: camelCase keys, no Optional attributes to unwrap."""
    return cast(dict[str, Any], api.sanitize_for_serialization(obj))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def find(documents: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        d
        for d in documents
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"{len(matches)} {kind} named {name}"
    return matches[0]


def adopt_crds(plane: KubeControlPlane, release: Release) -> None:
    """What docs/helm.md tells users to do: mark CRDs that exist already as the release's."""
    for crd in CHART_CRDS:
        if not kubectl(plane.admin_kubeconfig, "get", "crd", crd, "--ignore-not-found", "-o=name"):
            continue
        kubectl(
            plane.admin_kubeconfig,
            "annotate",
            "--overwrite",
            f"crd/{crd}",
            f"meta.helm.sh/release-name={release.name}",
            f"meta.helm.sh/release-namespace={release.namespace}",
        )
        kubectl(
            plane.admin_kubeconfig,
            "label",
            "--overwrite",
            f"crd/{crd}",
            "app.kubernetes.io/managed-by=Helm",
        )


def create_namespace(api: k8s.ApiClient, name: str, labels: dict[str, str] | None = None) -> str:
    k8s.CoreV1Api(api).create_namespace(
        k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels=labels))
    )
    return name


def install(
    helm: Helm, plane: KubeControlPlane, api: k8s.ApiClient, prefix: str, *values: str
) -> Release:
    release = Release(unique(prefix), create_namespace(api, unique(prefix)))
    adopt_crds(plane, release)
    helm.ok("install", release.name, str(CHART), f"--namespace={release.namespace}", *values)
    return release


# This control plane has no kubelet: the uninstall hook's Job would never run and Helm would
# wait for it. tests/e2e/cluster runs the hook on a real node.
NO_HOOK_JOB = "--no-hooks"


def remove(helm: Helm, api: k8s.ApiClient, release: Release) -> None:
    helm("uninstall", release.name, f"--namespace={release.namespace}", NO_HOOK_JOB)
    k8s.CoreV1Api(api).delete_namespace(release.namespace)
    delete_egress_policy(api, release.fullname)


def delete_egress_policy(api: k8s.ApiClient, name: str) -> None:
    """What docs/helm.md tells users to do after an uninstall that should take it along: the
    default egress policy is left behind, like the peering object."""
    try:
        k8s.CustomObjectsApi(api).delete_cluster_custom_object(*EGRESS_POLICIES, name)
    except ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture(scope="module")
def helm(
    helm_binary: Path,
    kube_control_plane: KubeControlPlane,
    tmp_path_factory: pytest.TempPathFactory,
) -> Helm:
    return Helm(helm_binary, kube_control_plane.admin_kubeconfig, tmp_path_factory.mktemp("helm"))


@pytest.fixture(scope="module")
def cluster_release(
    helm: Helm, kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, contactsync_crd: str
) -> Iterator[Release]:
    """Default values: cluster-wide, two replicas. The ContactSync CRD was already applied
    with `kubectl apply --server-side` (contactsync_crd), as another test module does."""
    release = install(helm, kube_control_plane, kube_api, "csync")
    yield release
    remove(helm, kube_api, release)


@pytest.fixture(scope="module")
def watched_namespaces(kube_api: k8s.ApiClient) -> Iterator[tuple[str, str]]:
    """A namespace the namespaced-mode operator watches, and one it does not."""
    watched, other = (
        create_namespace(kube_api, unique("watched")),
        create_namespace(kube_api, unique("other")),
    )
    yield watched, other
    for namespace in (watched, other):
        k8s.CoreV1Api(kube_api).delete_namespace(namespace)


@pytest.fixture(scope="module")
def namespaced_release(
    helm: Helm,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    cluster_release: Release,
    watched_namespaces: tuple[str, str],
) -> Iterator[Release]:
    """Watching one namespace; the CRDs are left to the cluster-wide release."""
    namespace = create_namespace(kube_api, unique("csync-ns"))
    release = Release(unique("csync-ns"), namespace)
    helm.ok(
        "install",
        release.name,
        str(CHART),
        f"--namespace={namespace}",
        f"--set=watchNamespaces={{{watched_namespaces[0]}}}",
        "--set=crds.install=false",
    )
    yield release
    remove(helm, kube_api, release)


def service_account_kubeconfig(
    plane: KubeControlPlane, namespace: str, name: str, directory: Path
) -> Path:
    token = kubectl(plane.admin_kubeconfig, "create", "token", name, f"--namespace={namespace}")
    return plane.token_kubeconfig(directory / f"{name}.kubeconfig", token.strip(), name)


ROW = re.compile(r"^(\S+)\s+\[[^\]]*\]\s+\[([^\]]*)\]\s+\[([^\]]*)\]\s*$")


def granted(kubeconfig: Path, namespace: str) -> dict[str, frozenset[str]]:
    """`kubectl auth can-i --list` as resource -> verbs (resource rows only)."""
    table = kubectl(kubeconfig, "auth", "can-i", "--list", f"--namespace={namespace}")
    rules: dict[str, set[str]] = {}
    for line in table.splitlines()[1:]:
        if row := ROW.match(line):
            resource, names, verbs = row.groups()
            # A rule limited to some objects reads "resource[name ...]".
            key = f"{resource}[{names}]" if names else resource
            rules.setdefault(key, set()).update(verbs.split())
    return {resource: frozenset(verbs) for resource, verbs in rules.items()}


def can(kubeconfig: Path, *args: str) -> bool:
    result = run(toolchain.on_path("kubectl"), f"--kubeconfig={kubeconfig}", "auth", "can-i", *args)
    answer = result.stdout.strip()
    assert answer in ("yes", "no"), result.stderr
    return answer == "yes"


@pytest.fixture(scope="module")
def baseline_rules(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, frozenset[str]]]:
    """What any ServiceAccount may do without a binding (self reviews): not the chart's doing."""
    namespace = create_namespace(kube_api, unique("nobody"))
    k8s.CoreV1Api(kube_api).create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="nobody"))
    )
    kubeconfig = service_account_kubeconfig(
        kube_control_plane, namespace, "nobody", tmp_path_factory.mktemp("nobody")
    )
    yield granted(kubeconfig, namespace)
    k8s.CoreV1Api(kube_api).delete_namespace(namespace)


def without(
    rules: dict[str, frozenset[str]], baseline: dict[str, frozenset[str]]
) -> dict[str, frozenset[str]]:
    return {r: v for r, v in rules.items() if baseline.get(r) != v}


# --- The chart on its own ----------------------------------------------------------------


def test_chart_lints_cleanly(helm: Helm) -> None:
    output = helm.ok("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in output


@pytest.mark.parametrize(
    "values", sorted(p.name for p in (CHART / "ci").glob("*-values.yaml")), ids=str
)
def test_chart_testing_value_sets_lint_and_pass_a_server_side_dry_run(
    helm: Helm,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    contactsync_crd: str,
    values: str,
) -> None:
    """What `ct lint` and `ct install` (ct.yaml) would try, checked here: every value set in
    ci/ lints strictly, and the API server accepts every object it renders."""
    chosen = f"--values={CHART / 'ci' / values}"
    assert "0 chart(s) failed" in helm.ok("lint", "--strict", str(CHART), chosen)
    rendered = helm.ok("template", "ct", str(CHART), "--namespace=default", chosen)
    objects = [d for d in yaml.safe_load_all(rendered) if d]
    # Objects of the egress-policy and Prometheus CRDs, and the CRDs themselves, need those
    # CRDs; the rest is checked object by object as `kubectl apply` would send them.
    checked = [
        d
        for d in objects
        if d["kind"] not in ("CustomResourceDefinition", "ServiceMonitor", "PodMonitor")
        and not d["apiVersion"].startswith("monitoring.coreos.com")
    ]
    for namespace in yaml.safe_load((CHART / "ci" / values).read_text()).get("watchNamespaces", []):
        with contextlib.suppress(ApiException):  # already there from an earlier run
            k8s.CoreV1Api(kube_api).create_namespace(
                k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace))
            )
    result = run(
        toolchain.on_path("kubectl"),
        f"--kubeconfig={kube_control_plane.admin_kubeconfig}",
        "apply",
        "--server-side",
        "--dry-run=server",
        "--filename=-",
        stdin=yaml.safe_dump_all(checked),
    )
    assert result.returncode == 0, result.stderr


def test_chart_packages_and_defaults_to_the_image_this_repo_builds(
    helm: Helm, tmp_path: Path
) -> None:
    helm.ok("package", str(CHART), f"--destination={tmp_path}")
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    [archive] = tmp_path.glob("*.tgz")
    assert archive.name == f"contactsync-{chart['version']}.tgz"
    with tarfile.open(archive) as packed:
        names = set(packed.getnames())
    for member in ("values.schema.json", "templates/crd-contactsync.yaml", "templates/NOTES.txt"):
        assert f"contactsync/{member}" in names
    # docker build and tests/env/build-image.sh tag the project's version; the chart's
    # appVersion must be that version, so the default image is the one the repo builds.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == project
    packaged = [
        d
        for d in yaml.safe_load_all(helm.ok("template", "p", str(archive), "--namespace=ops"))
        if d
    ]
    (container,) = find(packaged, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"ghcr.io/contactsync/contactsync:{project}"


def test_without_tls_an_api_key_or_an_explicit_plaintext_the_chart_refuses_to_render(
    helm: Helm,
) -> None:
    refused = run(helm.binary, "template", "bare", str(CHART), env=dict(os.environ))
    assert refused.returncode != 0
    assert "temporal.tls.secretName" in refused.stderr
    assert "temporal.plaintext=true" in refused.stderr
    for choice in ("--set=temporal.tls.secretName=tls", "--set=temporal.apiKey.secretName=key"):
        rendered = helm.render(choice)
        env = find(rendered, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
        assert "TEMPORAL_PLAINTEXT" not in {e["name"] for e in env}
    env = find(helm.render(), "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "TEMPORAL_PLAINTEXT", "value": "true"} in env


def test_default_values_render_an_ha_operator(helm: Helm) -> None:
    documents = helm.render()
    deployment = find(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/contactsync/contactsync:0.1.0"
    assert container["command"] == ["contactsync", "operator"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "health": 8080,
        "metrics": 9090,
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is True
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]
    assert find(documents, "PodDisruptionBudget")["spec"]["minAvailable"] == 1
    service = find(documents, "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    # The operator makes its peering object itself: nothing to order after the CRDs.
    # (The uninstall hook's own Role is a hook: it exists only while the hook runs.)
    assert not [
        d
        for d in documents
        if d["kind"] in ("ServiceMonitor", "Role", "KopfPeering", "ClusterKopfPeering")
        and "helm.sh/hook" not in d["metadata"].get("annotations", {})
    ]
    labels = deployment["metadata"]["labels"]
    for key in ("name", "instance", "version", "component", "managed-by", "part-of"):
        assert labels[f"app.kubernetes.io/{key}"], key


def test_one_replica_runs_peered_without_a_disruption_budget(helm: Helm) -> None:
    documents = helm.render("--set=replicaCount=1")
    assert "PodDisruptionBudget" not in {d["kind"] for d in documents}
    args = find(documents, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--standalone" not in args, "peered, so a rolling update never runs two at once"


@pytest.mark.parametrize(
    ("values", "binding", "mode"),
    [
        ((), "ClusterRoleBinding", "release"),
        (
            ("--set=uninstall.contactSyncs=Delete", "--set=watchNamespaces={sales}"),
            "RoleBinding",
            "delete",
        ),
    ],
)
def test_uninstall_hook_job_releases_or_deletes_the_contactsyncs(
    helm: Helm, values: tuple[str, ...], binding: str, mode: str
) -> None:
    """The Job's rights reach the ContactSyncs the operator watches: everywhere, or in the
    watched namespaces."""
    documents = helm.render(*values)
    job = find(documents, "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["contactsync", "uninstall"]
    assert f"--contactsyncs={mode}" in container["args"]
    assert "--operator=ops/render-test-contactsync" in container["args"]
    find(documents, binding, "render-test-contactsync-uninstall")
    assert not [d for d in helm.render("--set=uninstall.hook=false") if d["kind"] == "Job"]


def test_bring_your_own_service_account_and_rbac(helm: Helm) -> None:
    kinds = {
        d["kind"]
        for d in helm.render(
            "--set=serviceAccount.create=false",
            "--set=serviceAccount.name=platform-operator",
            "--set=rbac.create=false",
        )
        if "helm.sh/hook" not in d["metadata"].get("annotations", {})
    }
    assert not kinds & {"ServiceAccount", "ClusterRoleBinding", "RoleBinding", "Role"}
    assert "ClusterRole" in kinds, "only the aggregated user roles"
    refused = helm("template", "byo", str(CHART), "--set=serviceAccount.create=false")
    assert refused.returncode != 0
    assert "serviceAccount.create=false needs serviceAccount.name" in refused.stderr


def test_extra_env_volumes_and_mounts_reach_the_operator_but_not_its_settings(helm: Helm) -> None:
    documents = helm.render(
        "--set=extraEnv[0].name=HTTPS_PROXY",
        "--set=extraEnv[0].value=http://proxy:3128",
        "--set=extraVolumes[0].name=ca",
        "--set=extraVolumes[0].configMap.name=corporate-ca",
        "--set=extraVolumeMounts[0].name=ca",
        "--set=extraVolumeMounts[0].mountPath=/etc/ssl/corporate",
    )
    pod = find(documents, "Deployment")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "HTTPS_PROXY", "value": "http://proxy:3128"} in container["env"]
    assert {"name": "ca", "configMap": {"name": "corporate-ca"}} in pod["volumes"]
    assert {"name": "ca", "mountPath": "/etc/ssl/corporate"} in container["volumeMounts"]
    overridden = helm("template", "env", str(CHART), "--set=extraEnv[0].name=TEMPORAL_ADDRESS")
    assert overridden.returncode != 0
    assert "/extraEnv/0/name" in overridden.stderr, overridden.stderr


def test_the_operator_network_policy_opens_only_what_it_needs(helm: Helm) -> None:
    policy = find(
        helm.render(
            "--set=networkPolicy.enabled=true",
            "--set=temporal.address=temporal-frontend.temporal:7234",
            '--set-json=networkPolicy.apiServerPeers=[{"ipBlock":{"cidr":"10.96.0.1/32"}}]',
        ),
        "NetworkPolicy",
    )["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert [p["port"] for p in policy["ingress"][0]["ports"]] == [9090, 8080]
    dns, api_server, temporal = policy["egress"]
    assert {p["port"] for p in dns["ports"]} == {53}
    assert [p["port"] for p in api_server["ports"]] == [443, 6443]
    assert api_server["to"] == [{"ipBlock": {"cidr": "10.96.0.1/32"}}]
    assert [p["port"] for p in temporal["ports"]] == [7234]
    assert "NetworkPolicy" not in {d["kind"] for d in helm.render()}, "off unless asked"


def test_the_chart_readme_is_what_helm_docs_makes_and_documents_every_value() -> None:
    helm_docs = toolchain.built_binary("helm-docs", toolchain.HELM_DOCS_VERSION)
    made = run(helm_docs, f"--chart-search-root={CHART}", "--dry-run", "--skip-version-footer")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == (CHART / "README.md").read_text().strip(), (
        "helm/contactsync/README.md is stale: run helm-docs in helm/contactsync "
        "(tests/env/setup.sh builds it) with --skip-version-footer"
    )
    documented = {
        row.split("|")[1].strip(): row.split("|")[4].strip()
        for row in made.stdout.splitlines()
        if row.startswith("| ") and not row.startswith("| Key") and not row.startswith("|--")
    }
    undocumented = [
        path
        for path in leaf_paths(yaml.safe_load((CHART / "values.yaml").read_text()))
        # A value is documented by its own row, or by the row of an object holding it.
        if not any(
            documented.get(".".join(path.split(".")[:n])) for n in range(1, 1 + path.count(".") + 1)
        )
    ]
    assert not undocumented, f"values without a `# --` comment: {undocumented}"


def leaf_paths(values: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, f"{path}.")
        else:
            paths.append(path)
    return paths


def test_the_install_notes_lead_to_a_contactsync_that_can_run(helm: Helm) -> None:
    """Not an example that goes Degraded for want of keys: the notes make the keys Secret (its
    request key included) and label it for the ContactSync."""
    notes = helm.ok("install", "notes", str(CHART), "--dry-run=client", "--namespace=ops")
    notes = notes[notes.index("NOTES:") :]
    for needed in ("requests.key=", "pseudonym=", "contactsync.dev/use=", "condition=Ready"):
        assert needed in notes, needed
    assert "quickstart.yaml" not in notes, "the local-mode example has no keys"


def test_artifact_hub_annotations_describe_this_chart() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    annotations = chart["annotations"]
    [image] = yaml.safe_load(annotations["artifacthub.io/images"])
    assert image["image"] == f"ghcr.io/contactsync/contactsync:{chart['appVersion']}"
    crds = {c["name"] for c in yaml.safe_load(annotations["artifacthub.io/crds"])}
    assert crds == {CONTACTSYNC_CRD, EGRESS_CRD}
    for example in yaml.safe_load(annotations["artifacthub.io/crdsExamples"]):
        parse_contact_sync(example)  # the example is a valid ContactSync


def test_service_monitor_scrapes_the_metrics_port(helm: Helm) -> None:
    monitor = find(helm.render("--set=serviceMonitor.enabled=true"), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ("replicaCont=2", "replicaCont"),
        ("temporal.adress=temporal:7233", "adress"),
        ("serviceMonitor.enable=true", "enable"),
        ("watchNamespaces={Not_A_Namespace}", "Not_A_Namespace"),
        ("egressPolicy.allow[0].cidr=10.0.0.0", "/egressPolicy/allow/0/cidr"),
        ("egressPolicy.alow[0].cidr=10.0.0.0/8", "alow"),
        ("worker.temporalPeers[0].namespace=temporal", "namespace"),
        # Values the cluster would refuse, or take for something else, later:
        ("podDisruptionBudget.minAvailable=abc", "/podDisruptionBudget/minAvailable"),
        ("resources.requests.cpu=lots", "/resources/requests/cpu"),
        ("tolerations[0].kee=dedicated", "kee"),
        ("topologySpreadConstraints[0].maxSkew=one", "/topologySpreadConstraints/0"),
        ("priorityClassName=High_Priority", "/priorityClassName"),
        ("temporal.apiKey.key=..", "/temporal/apiKey/key"),
        ("image.repository=ghcr.io/contactsync/contactsync@sha256:0", "/image/repository"),
    ],
)
def test_values_typo_is_refused_naming_it(helm: Helm, setting: str, named: str) -> None:
    result = helm("template", "typo", str(CHART), f"--set={setting}")
    assert result.returncode != 0
    assert "schema" in result.stderr, result.stderr
    assert named in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        (("--set=metrics.port=8080",), "metrics.port and healthPort are both 8080"),
        (
            (
                "--set=temporal.tls.secretName=temporal-tls",
                "--set=temporal.tls.clientCertificate=false",
                "--set=temporal.tls.caCertificate=false",
            ),
            "clientCertificate and caCertificate are both off",
        ),
    ],
    ids=["one port for two servers", "a TLS Secret of which nothing is mounted"],
)
def test_values_that_cannot_work_together_are_refused(
    helm: Helm, settings: tuple[str, ...], said: str
) -> None:
    result = helm("template", "refused", str(CHART), *settings)
    assert result.returncode != 0
    assert said in result.stderr, result.stderr


def test_an_image_pinned_by_digest_is_rendered_by_digest(helm: Helm) -> None:
    digest = "sha256:" + "ab" * 32
    documents = helm.render(f"--set=image.digest={digest}", "--set=image.tag=0.9.9")
    image = find(documents, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"ghcr.io/contactsync/contactsync@{digest}"
    job = find(documents, "Job")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert job == image, "the uninstall hook runs the same image"


def test_operator_gets_exactly_the_variables_settings_reads(helm: Helm) -> None:
    everything = helm.render(
        "--set=temporal.tls.secretName=temporal-tls",
        "--set=temporal.apiKey.secretName=temporal-api-key",
        "--set=temporal.plaintext=true",  # set with the others, so every variable is rendered
        "--set=worker.stateVolume.storageClassName=fast",
        "--set=worker.temporalAddress=temporal.eu:7233",
        "--set=worker.temporalTlsSecret=worker-tls",
        f"--set-json=worker.temporalPeers={json.dumps(TEMPORAL_PEERS)}",
    )
    (container,) = find(everything, "Deployment")["spec"]["template"]["spec"]["containers"]
    source = (ROOT / "operator" / "contactsync_operator" / "settings.py").read_text()
    assert {e["name"] for e in container["env"]} == set(SETTINGS_VARIABLE.findall(source))
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["temporal-tls"] == "/var/run/secrets/temporal-tls"

    # The values, read back by the operator's own parser.
    documents = helm.render(
        "--set=servedRegions={eu-central-1,eu-west-1}",
        "--set=watchNamespaces={sales,hr}",
        "--set=worker.egressPorts={5432,636}",
        "--set=resyncSeconds=30",
        "--set=image.tag=1.2.3",
        f"--set-json=worker.temporalPeers={json.dumps(TEMPORAL_PEERS)}",
    )
    (container,) = find(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
    settings = settings_from_env({e["name"]: e["value"] for e in container["env"]})
    assert settings.served_regions == {"eu-central-1", "eu-west-1"}
    assert settings.namespaces == ("sales", "hr")
    assert settings.egress_ports == (5432, 636)
    assert settings.worker_temporal_peers == tuple(TEMPORAL_PEERS)
    assert settings.resync_seconds == 30
    assert settings.metrics_port == 9090
    assert settings.worker_image == container["image"] == "ghcr.io/contactsync/contactsync:1.2.3"
    assert not settings.temporal.uses_tls


@pytest.mark.parametrize(
    ("source", "copied"),
    [("contactsync.yaml", "contactsync-crd.yaml"), ("kopf-peering.yaml", "kopf-peering-crds.yaml")],
)
def test_chart_crd_files_are_copies_of_crds(source: str, copied: str) -> None:
    assert (CHART / "files" / copied).read_bytes() == (ROOT / "crds" / source).read_bytes(), (
        f"helm/contactsync/files/{copied} differs from crds/{source}: "
        f"cp crds/{source} helm/contactsync/files/{copied}"
    )


def test_rendered_crd_is_the_generated_one_kept_on_uninstall(helm: Helm) -> None:
    documents = helm.render()
    for file, name in (
        ("contactsync.yaml", CONTACTSYNC_CRD),
        ("contactsyncegresspolicy.yaml", EGRESS_CRD),
    ):
        generated = yaml.safe_load((ROOT / "crds" / file).read_text())
        rendered = find(documents, "CustomResourceDefinition", name)
        assert rendered["spec"] == generated["spec"]
        assert rendered["metadata"]["labels"].items() >= generated["metadata"]["labels"].items()
    for crd in CHART_CRDS:
        annotations = find(documents, "CustomResourceDefinition", crd)["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
        # Nor does Argo CD or Flux delete them when they leave the desired state.
        assert annotations["argocd.argoproj.io/sync-options"] == "Prune=false"
        assert annotations["kustomize.toolkit.fluxcd.io/prune"] == "disabled"
    for crd in PEERING_CRDS:
        version = find(documents, "CustomResourceDefinition", crd)["spec"]["versions"][0]
        properties = version["schema"]["openAPIV3Schema"]["properties"]
        assert properties["spec"]["x-kubernetes-preserve-unknown-fields"] is True
        assert properties["status"]["x-kubernetes-preserve-unknown-fields"] is True
    kinds = {d["kind"] for d in helm.render("--set=crds.install=false")}
    assert "CustomResourceDefinition" not in kinds


def test_the_default_egress_policy_lets_workers_reach_the_public_internet_only(
    helm: Helm,
) -> None:
    rendered = default_egress_policy(helm.render())
    assert rendered is not None
    assert rendered["metadata"]["name"] == "render-test-contactsync"
    policy = parse_egress_policy(rendered)
    assert policy.spec.namespace_selector.matches({}), "every namespace"
    egress = region_egress([policy])
    for address, allowed in [
        ("203.0.113.7", True),
        ("2001:db8::7", True),
        ("10.96.0.1", False),  # the cluster's own network
        ("172.20.0.5", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),  # shared (CGNAT)
        ("127.0.0.1", False),
        ("169.254.169.254", False),  # instance metadata
        ("fd12::1", False),
        ("fe80::1", False),
    ]:
        assert (refusal("server", address, 443, egress) is None) is allowed, address

    named = default_egress_policy(helm.render("--set=egressPolicy.name=public-internet"))
    assert named is not None
    assert named["metadata"]["name"] == "public-internet"
    assert default_egress_policy(helm.render("--set=egressPolicy.create=false")) is None
    # No policy object in the chart itself: nothing to order after the CRDs.
    assert not [d for d in helm.render() if d["kind"] == EGRESS]


def default_egress_policy(documents: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The policy the chart hands the operator to create at start, read as the operator does."""
    env = find(documents, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]
    raw = next((v["value"] for v in env if v["name"] == "CONTACTSYNC_DEFAULT_EGRESS_POLICY"), None)
    return parse_default_policy(raw)


# --- Installed -----------------------------------------------------------------------------


def test_install_does_not_take_a_crd_it_does_not_own(
    helm: Helm, kube_api: k8s.ApiClient, contactsync_crd: str
) -> None:
    namespace = create_namespace(kube_api, unique("refused"))
    result = helm("install", unique("refused"), str(CHART), f"--namespace={namespace}")
    assert result.returncode != 0
    # The first CRD Helm finds already there is named: the ContactSync one applied with kubectl.
    assert any(crd in result.stderr for crd in CHART_CRDS), result.stderr
    assert "cannot be imported into the current release" in result.stderr, result.stderr
    k8s.CoreV1Api(kube_api).delete_namespace(namespace)


def test_install_creates_crds_operator_and_cluster_rbac(
    kube_api: k8s.ApiClient, cluster_release: Release
) -> None:
    extensions = k8s.ApiextensionsV1Api(kube_api)

    def crd(name: str) -> dict[str, Any]:
        return plain(kube_api, extensions.read_custom_resource_definition(name))

    def established(name: str) -> bool:
        conditions = crd(name)["status"]["conditions"]
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    for name in CHART_CRDS:
        wait_until(partial(established, name), timeout=30, what=f"{name} Established")
        annotations = crd(name)["metadata"]["annotations"]
        assert annotations["helm.sh/resource-policy"] == "keep"
        assert annotations["meta.helm.sh/release-name"] == cluster_release.name

    name, namespace = cluster_release.fullname, cluster_release.namespace
    deployment = k8s.AppsV1Api(kube_api).read_namespaced_deployment(name, namespace)
    assert plain(kube_api, deployment)["spec"]["template"]["spec"]["serviceAccountName"] == name
    k8s.CoreV1Api(kube_api).read_namespaced_service_account(name, namespace)
    k8s.CoreV1Api(kube_api).read_namespaced_service(f"{name}-metrics", namespace)
    k8s.PolicyV1Api(kube_api).read_namespaced_pod_disruption_budget(name, namespace)
    rbac = k8s.RbacAuthorizationV1Api(kube_api)
    rbac.read_cluster_role(name)
    binding = plain(kube_api, rbac.read_cluster_role_binding(name))
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": name,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]


def test_upgrade_leaves_the_peering_object_and_its_records(
    helm: Helm, kube_api: k8s.ApiClient, cluster_release: Release
) -> None:
    """The operator's peering object (it makes it itself) is never Helm's to replace."""
    objects = k8s.CustomObjectsApi(kube_api)
    peering = ("kopf.dev", "v1", "clusterkopfpeerings")
    body = {"apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering"}
    try:
        objects.create_cluster_custom_object(
            *peering, {**body, "metadata": {"name": "contactsync"}}
        )
    except ApiException as exc:
        if exc.status != 409:  # already made by an earlier test
            raise
    record = {"status": {f"{cluster_release.name}-pod": {"priority": 1, "lifetime": 60}}}
    before = cast(
        dict[str, Any], objects.patch_cluster_custom_object(*peering, "contactsync", record)
    )
    helm.ok("upgrade", cluster_release.name, str(CHART), f"--namespace={cluster_release.namespace}")
    after = cast(dict[str, Any], objects.get_cluster_custom_object(*peering, "contactsync"))
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"].items() >= record["status"].items()


def operator_pod(kube_api: k8s.ApiClient, release: Release) -> dict[str, Any]:
    """A Pod made from the installed Deployment's template, as its ReplicaSet would make it."""
    deployment = k8s.AppsV1Api(kube_api).read_namespaced_deployment(
        release.fullname, release.namespace
    )
    template = plain(kube_api, deployment)["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "operator", "labels": template["metadata"]["labels"]},
        "spec": template["spec"],
    }


def weaken(pod: dict[str, Any], change: str) -> dict[str, Any]:
    weak = copy.deepcopy(pod)
    spec = weak["spec"]
    contexts = [spec["securityContext"], *(c["securityContext"] for c in spec["containers"])]
    if change == "runAsNonRoot":
        for context in contexts:
            context.pop("runAsNonRoot", None)
    elif change == "allowPrivilegeEscalation":
        spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    elif change == "capabilities":
        spec["containers"][0]["securityContext"].pop("capabilities")
    elif change == "seccompProfile":
        for context in contexts:
            context.pop("seccompProfile", None)
    return weak


@pytest.fixture(scope="module")
def restricted_namespace(kube_api: k8s.ApiClient, cluster_release: Release) -> Iterator[str]:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    namespace = create_namespace(kube_api, unique("restricted"), labels)
    # The template names the operator's ServiceAccount; admission looks it up first.
    k8s.CoreV1Api(kube_api).create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=cluster_release.fullname))
    )
    yield namespace
    k8s.CoreV1Api(kube_api).delete_namespace(namespace)


def test_operator_pod_is_admitted_under_restricted_pod_security(
    kube_api: k8s.ApiClient, cluster_release: Release, restricted_namespace: str
) -> None:
    pod = operator_pod(kube_api, cluster_release)
    admitted = k8s.CoreV1Api(kube_api).create_namespaced_pod(
        restricted_namespace,
        pod,  # type: ignore[arg-type]
        dry_run="All",
    )
    assert plain(kube_api, admitted)["metadata"]["namespace"] == restricted_namespace


@pytest.mark.parametrize(
    "change", ["runAsNonRoot", "allowPrivilegeEscalation", "capabilities", "seccompProfile"]
)
def test_weakened_operator_pod_is_refused_under_restricted_pod_security(
    kube_api: k8s.ApiClient, cluster_release: Release, restricted_namespace: str, change: str
) -> None:
    weak = weaken(operator_pod(kube_api, cluster_release), change)
    with pytest.raises(ApiException) as refused:
        k8s.CoreV1Api(kube_api).create_namespaced_pod(
            restricted_namespace,
            weak,  # type: ignore[arg-type]
            dry_run="All",
        )
    assert refused.value.status == 403
    message = json.loads(refused.value.body or "{}")["message"]
    assert "violates PodSecurity" in message
    assert change in message, message


def test_users_with_the_default_roles_get_contactsync_rights(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, cluster_release: Release
) -> None:
    """Aggregated into view, edit and admin by the cluster's own aggregation controller."""
    namespace = create_namespace(kube_api, unique("team"))
    rbac = k8s.RbacAuthorizationV1Api(kube_api)
    for role in ("view", "edit"):
        rbac.create_namespaced_role_binding(
            namespace,
            k8s.V1RoleBinding(
                metadata=k8s.V1ObjectMeta(name=f"{role}-user"),
                role_ref=k8s.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role
                ),
                subjects=[
                    k8s.RbacV1Subject(
                        kind="User", name=f"{role}-user", api_group="rbac.authorization.k8s.io"
                    )
                ],
            ),
        )
    admin = kube_control_plane.admin_kubeconfig

    def may(user: str, verb: str, resource: str = "contactsyncs.contactsync.dev") -> bool:
        return can(admin, verb, resource, f"--namespace={namespace}", f"--as={user}")

    wait_until(lambda: may("view-user", "list"), timeout=30, what="view to be aggregated")
    assert may("view-user", "watch")
    assert not may("view-user", "create")
    wait_until(lambda: may("edit-user", "create"), timeout=30, what="edit to be aggregated")
    assert may("edit-user", "delete")
    assert not may("view-user", "get", "secrets"), "nothing beyond ContactSyncs"
    k8s.CoreV1Api(kube_api).delete_namespace(namespace)


def test_cluster_wide_operator_has_exactly_the_rights_it_needs(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    cluster_release: Release,
    baseline_rules: dict[str, frozenset[str]],
    tmp_path: Path,
) -> None:
    operator = service_account_kubeconfig(
        kube_control_plane, cluster_release.namespace, cluster_release.fullname, tmp_path
    )
    anywhere = create_namespace(kube_api, unique("anywhere"))
    for namespace in (anywhere, cluster_release.namespace):
        assert without(granted(operator, namespace), baseline_rules) == CLUSTER_WIDE

    for verb, resource in [
        ("watch", "contactsyncs.contactsync.dev"),
        ("patch", "deployments.apps"),
        ("delete", "networkpolicies.networking.k8s.io"),
        ("get", "secrets"),
        ("patch", "clusterkopfpeerings.kopf.dev"),
    ]:
        assert can(operator, verb, resource, "--all-namespaces"), f"{verb} {resource}"
    for refused in [
        ("list", "secrets", "--all-namespaces"),
        ("watch", "secrets", f"--namespace={anywhere}"),
        ("create", "pods", f"--namespace={anywhere}"),
        ("delete", "namespaces"),
        ("*", "*", "--all-namespaces"),
        ("get", "nodes"),
        ("escalate", "roles.rbac.authorization.k8s.io", f"--namespace={anywhere}"),
        ("bind", "clusterroles.rbac.authorization.k8s.io"),
        ("impersonate", "serviceaccounts", f"--namespace={anywhere}"),
        ("create", "customresourcedefinitions.apiextensions.k8s.io"),
        ("update", "deployments.apps", f"--namespace={anywhere}"),
        ("patch", "contactsyncegresspolicies.contactsync.dev"),
        ("delete", "contactsyncegresspolicies.contactsync.dev"),
    ]:
        assert not can(operator, *refused), " ".join(refused)
    k8s.CoreV1Api(kube_api).delete_namespace(anywhere)


def test_namespaced_operator_acts_only_in_its_namespaces(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    namespaced_release: Release,
    watched_namespaces: tuple[str, str],
    baseline_rules: dict[str, frozenset[str]],
    tmp_path: Path,
) -> None:
    watched, other = watched_namespaces
    operator = service_account_kubeconfig(
        kube_control_plane, namespaced_release.namespace, namespaced_release.fullname, tmp_path
    )
    # Whether a watched namespace is being deleted, and its labels (which egress policies select
    # it): that one Namespace object only.
    own_namespace = {f"namespaces[{watched}]": frozenset({"get"})}
    cluster_only = {**CLUSTER_READS, **own_namespace}
    assert without(granted(operator, watched), baseline_rules) == {
        **NAMESPACED_WATCHED,
        **own_namespace,
    }
    assert without(granted(operator, other), baseline_rules) == cluster_only
    assert without(granted(operator, namespaced_release.namespace), baseline_rules) == cluster_only

    assert can(operator, "patch", "deployments.apps", f"--namespace={watched}")
    assert not can(operator, "patch", "deployments.apps", f"--namespace={other}")
    assert not can(operator, "get", "secrets", f"--namespace={other}")
    assert not can(operator, "list", "contactsyncs.contactsync.dev", "--all-namespaces")
    assert not can(operator, "list", "namespaces")
    assert can(operator, "get", f"namespaces/{watched}")
    assert not can(operator, "get", f"namespaces/{other}")
    assert not can(operator, "patch", "contactsyncegresspolicies.contactsync.dev")
    assert not can(operator, "patch", "clusterkopfpeerings.kopf.dev")

    assert can(operator, "create", "kopfpeerings.kopf.dev", f"--namespace={watched}")
    assert not can(operator, "create", "kopfpeerings.kopf.dev", f"--namespace={other}")
    rbac = k8s.RbacAuthorizationV1Api(kube_api)
    role = plain(kube_api, rbac.read_namespaced_role(namespaced_release.fullname, watched))
    assert {r for rule in role["rules"] for r in rule["resources"]} >= {"kopfpeerings", "secrets"}
    cluster_role = plain(kube_api, rbac.read_cluster_role(namespaced_release.fullname))
    assert [r["resources"] for r in cluster_role["rules"]] == [
        ["customresourcedefinitions"],
        ["contactsyncegresspolicies"],
        ["namespaces"],
    ]
    assert cluster_role["rules"][2]["resourceNames"] == [watched]


def next_chart_version(directory: Path) -> tuple[Path, str]:
    """The chart as its next version might ship: one CRD description changed. And that text."""
    chart = Path(shutil.copytree(CHART, directory / "contactsync"))
    metadata = yaml.safe_load((chart / "Chart.yaml").read_text())
    (chart / "Chart.yaml").write_text(yaml.safe_dump({**metadata, "version": "0.1.1"}))
    path = chart / "files" / "contactsync-crd.yaml"
    crd = yaml.safe_load(path.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["description"] += " (changed in 0.1.1)"
    path.write_text(yaml.safe_dump(crd, sort_keys=False))
    return chart, spec["description"]


def test_upgrade_upgrades_the_crd_and_uninstall_keeps_it(
    helm: Helm,
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    contactsync_crd: str,
    tmp_path: Path,
) -> None:
    # contactsync_crd: the CRD was applied with `kubectl apply --server-side` before Helm
    # adopted it, so kubectl still co-owns its fields.
    release = install(helm, kube_control_plane, kube_api, "csync-up", "--set=replicaCount=1")
    extensions = k8s.ApiextensionsV1Api(kube_api)
    upgrade = ("upgrade", release.name, f"--namespace={release.namespace}", "--reuse-values")

    def crd() -> dict[str, Any]:
        return plain(kube_api, extensions.read_custom_resource_definition(contactsync_crd))

    def spec_description() -> str | None:
        schema = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        return cast(str | None, schema["properties"]["spec"].get("description"))

    generated = spec_description()
    next_chart, next_description = next_chart_version(tmp_path)
    try:
        # The first change to an adopted CRD: server-side apply names the co-owner, and
        # --force-conflicts (docs/helm.md) hands the changed fields to Helm.
        conflict = helm(*upgrade, str(next_chart))
        assert conflict.returncode != 0
        assert 'conflict with "kubectl"' in conflict.stderr, conflict.stderr
        helm.ok(*upgrade, str(next_chart), "--force-conflicts")
        assert spec_description() == next_description
        # From then on a plain upgrade (here: back) changes the CRD.
        helm.ok(*upgrade, str(CHART))
        assert spec_description() == generated

        # A hand edit takes the field from Helm the same way; the same flag puts it back.
        path = "/spec/versions/0/schema/openAPIV3Schema/properties/spec/description"
        kubectl(
            kube_control_plane.admin_kubeconfig,
            "patch",
            f"crd/{contactsync_crd}",
            "--type=json",
            f'--patch=[{{"op": "remove", "path": "{path}"}}]',
        )
        assert spec_description() is None
        conflict = helm(*upgrade, str(CHART))
        assert conflict.returncode != 0
        assert 'conflict with "kubectl-patch"' in conflict.stderr, conflict.stderr
    finally:
        # Also when the test failed: the CRD is shared with the rest of the session.
        restored = helm(*upgrade, str(CHART), "--force-conflicts")
    assert restored.returncode == 0, restored.stderr
    assert spec_description() == generated

    helm.ok("uninstall", release.name, f"--namespace={release.namespace}", NO_HOOK_JOB)
    delete_egress_policy(kube_api, release.fullname)
    kept = crd()["metadata"]
    assert "deletionTimestamp" not in kept
    assert kept["annotations"]["helm.sh/resource-policy"] == "keep"
    with pytest.raises(ApiException) as gone:
        k8s.AppsV1Api(kube_api).read_namespaced_deployment(release.fullname, release.namespace)
    assert gone.value.status == 404
    k8s.CoreV1Api(kube_api).delete_namespace(release.namespace)
