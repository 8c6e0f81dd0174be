"""The ContactSyncEgressPolicy CRD in a real API server: good policies kept as written, bad
ones refused by the API server and the model alike, naming the field."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from contactsync_api.egress_policy import PLURAL, parse_egress_policy
from contactsync_api.manifest import ManifestError
from contactsync_api.spec import GROUP, VERSION
from tests.corpus.manifests import DELETE, apply_change
from tests.servers.kube import KubeControlPlane
from tests.support import kubectl

pytestmark = pytest.mark.kube

EXAMPLES = Path(__file__).parents[2] / "examples" / "egress"
CHART_VALUES = Path(__file__).parents[2] / "helm" / "contactsync" / "values.yaml"
VALID: dict[str, Any] = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "ContactSyncEgressPolicy",
    "spec": {
        "namespaceSelector": {
            "matchExpressions": [{"key": "team", "operator": "In", "values": ["hr", "sales"]}]
        },
        "allow": [
            {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"]},
            {"cidr": "2001:db8::/32", "ports": [443, 636]},
        ],
    },
}


def policy(name: str, **changes: object) -> dict[str, Any]:
    document = copy.deepcopy(VALID)
    for path, value in changes.items():
        apply_change(document, path, value)
    document["metadata"] = {"name": name}
    return document


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(api: k8s.ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    return cast(
        dict[str, Any],
        k8s.CustomObjectsApi(api).create_cluster_custom_object(
            GROUP, VERSION, PLURAL, body, field_validation="Strict"
        ),
    )


def delete(api: k8s.ApiClient, name: str) -> None:
    k8s.CustomObjectsApi(api).delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)


@pytest.fixture(scope="module")
def crd(egress_policy_crd: str) -> str:
    return egress_policy_crd


def default_policy_of_the_chart() -> dict[str, Any]:
    values = yaml.safe_load(CHART_VALUES.read_text())["egressPolicy"]
    spec = {k: values[k] for k in ("namespaceSelector", "allow", "allowLinkLocal")}
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ContactSyncEgressPolicy", "spec": spec}


@pytest.mark.parametrize(
    "document",
    [
        VALID,
        default_policy_of_the_chart(),
        *(yaml.safe_load(path.read_text()) for path in sorted(EXAMPLES.glob("*.yaml"))),
    ],
    ids=["valid", "chart-default", *(p.stem for p in sorted(EXAMPLES.glob("*.yaml")))],
)
def test_a_good_policy_is_stored_as_written_and_read_back_by_the_model(
    kube_api: k8s.ApiClient, crd: str, document: dict[str, Any]
) -> None:
    body = {**copy.deepcopy(document), "metadata": {"name": unique("good")}}
    stored = create(kube_api, body)
    try:
        # Only defaults added (allowLinkLocal: false, except: []): the same policy to the model.
        assert parse_egress_policy(stored) == parse_egress_policy(body)
    finally:
        delete(kube_api, body["metadata"]["name"])


INVALID = [
    ("not-an-address", {"spec.allow[0].cidr": "10.0.0.300/8"}, "spec.allow[0].cidr"),
    ("no-prefix", {"spec.allow[0].cidr": "10.0.0.0"}, "spec.allow[0].cidr"),
    ("host-bits-set", {"spec.allow[0].cidr": "10.0.0.1/8"}, "spec.allow[0].cidr"),
    ("ipv4-mapped", {"spec.allow[1].cidr": "::ffff:10.0.0.0/104"}, "spec.allow[1].cidr"),
    ("bad-except", {"spec.allow[0].except[0]": "ten/8"}, "spec.allow[0].except"),
    ("except-outside", {"spec.allow[1].except": ["2001:db9::/48"]}, "spec.allow[1].except"),
    ("except-not-smaller", {"spec.allow[1].except": ["2001:db8::/32"]}, "spec.allow[1].except"),
    ("link-local-needs-opt-in", {"spec.allow[1].cidr": "169.254.169.254/32"}, "spec.allow"),
    ("port-zero", {"spec.allow[1].ports": [0]}, "spec.allow[1].ports[0]"),
    ("no-rules", {"spec.allow": []}, "spec.allow"),
    ("no-selector", {"spec.namespaceSelector": DELETE}, "spec.namespaceSelector"),
    (
        "in-without-values",
        {"spec.namespaceSelector.matchExpressions[0].values": DELETE},
        "spec.namespaceSelector.matchExpressions[0].values",
    ),
]


@pytest.mark.parametrize(
    ("changes", "refused_at"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_an_invalid_policy_is_refused_naming_the_field(
    kube_api: k8s.ApiClient, crd: str, changes: dict[str, object], refused_at: str
) -> None:
    body = policy(unique("bad"), **changes)
    with pytest.raises(ApiException) as refused:
        create(kube_api, body)
    assert refused.value.status == 422, refused.value.body
    message = json.loads(refused.value.body or "{}")["message"]
    assert refused_at in message, message

    with pytest.raises(ManifestError) as model_refused:
        parse_egress_policy(body)
    assert any(p.startswith(refused_at) for p in model_refused.value.problems), model_refused.value


def test_an_invalid_cidr_is_refused_with_a_message_that_says_what_a_cidr_is(
    kube_api: k8s.ApiClient, crd: str
) -> None:
    with pytest.raises(ApiException) as refused:
        create(kube_api, policy(unique("cidr"), **{"spec.allow[0].cidr": "10.0.0.1/8"}))
    message = json.loads(refused.value.body or "{}")["message"]
    assert "spec.allow[0].cidr" in message
    assert "cidr must be a CIDR block such as 10.0.0.0/8" in message


def test_link_local_blocks_are_accepted_once_allowed(kube_api: k8s.ApiClient, crd: str) -> None:
    name = unique("metadata")
    create(
        kube_api,
        policy(
            name,
            **{"spec.allow[1].cidr": "169.254.169.254/32", "spec.allowLinkLocal": True},
        ),
    )
    delete(kube_api, name)


def test_kubectl_shows_policies_by_short_name_and_explains_them(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, crd: str
) -> None:
    name = unique("shown")
    create(kube_api, policy(name))
    try:
        table = kubectl(kube_control_plane.admin_kubeconfig, "get", "csegress", name)
        header, row = table.splitlines()[:2]
        assert header.split() == ["NAME", "NAMESPACES", "FIRST", "BLOCK", "LINK-LOCAL", "AGE"]
        shown, selector, first, link_local, _ = row.split()
        assert (shown, first, link_local) == (name, "0.0.0.0/0", "false")
        assert json.loads(selector) == VALID["spec"]["namespaceSelector"]
    finally:
        delete(kube_api, name)
    explained = kubectl(
        kube_control_plane.admin_kubeconfig, "explain", "contactsyncegresspolicy.spec.allow"
    )
    assert "ipBlock" in explained
