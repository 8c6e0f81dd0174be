"""The ContactSync CRD in a real API server: examples accepted, bad manifests refused clearly."""

from __future__ import annotations

import json
import uuid
from typing import Any, cast

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from contactsync_api.manifest import ManifestError, parse_contact_sync
from contactsync_api.spec import GROUP, PLURAL, VERSION
from tests.corpus.manifests import INVALID, MODEL_ONLY, InvalidCase, example, example_names
from tests.servers.kube import KubeControlPlane
from tests.support import kubectl

pytestmark = pytest.mark.kube


@pytest.fixture(scope="module")
def namespace(kube_api: k8s.ApiClient, contactsync_crd: str) -> str:
    name = f"crd-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


def assert_contained(sent: Any, stored: Any, path: str = "") -> None:
    """Everything the user wrote is stored exactly; the server may only add defaults."""
    if isinstance(sent, dict):
        assert isinstance(stored, dict), path
        for key, value in sent.items():
            assert key in stored, f"{path}.{key} was dropped"
            assert_contained(value, stored[key], f"{path}.{key}")
    elif isinstance(sent, list):
        assert isinstance(stored, list), path
        assert len(stored) == len(sent), path
        for index, (a, b) in enumerate(zip(sent, stored, strict=True)):
            assert_contained(a, b, f"{path}[{index}]")
    else:
        assert sent == stored, f"{path}: sent {sent!r}, stored {stored!r}"


def apply_and_read(plane: KubeControlPlane, document: dict[str, Any]) -> dict[str, Any]:
    admin = plane.admin_kubeconfig
    kubectl(admin, "apply", "--server-side", "--filename=-", stdin=yaml.safe_dump(document))
    meta = document["metadata"]
    name, namespace = meta["name"], f"--namespace={meta['namespace']}"
    read: dict[str, Any] = json.loads(
        kubectl(admin, "get", "contactsync", name, namespace, "--output=json", check=False)
    )
    return read


@pytest.mark.parametrize("name", example_names())
def test_example_is_accepted_and_round_trips_unchanged(
    kube_control_plane: KubeControlPlane, namespace: str, name: str
) -> None:
    document = example(name)
    document["metadata"]["namespace"] = namespace
    stored = apply_and_read(kube_control_plane, document)
    assert_contained(document["spec"], stored["spec"])
    # Re-applying the same file is a no-op: the stored spec did not drift from what was sent.
    again = apply_and_read(kube_control_plane, document)
    assert again["metadata"]["generation"] == stored["metadata"]["generation"]
    # The typed model reads what the API server stored, defaults included.
    parse_contact_sync(stored)


def create(api: k8s.ApiClient, namespace: str, body: dict[str, Any]) -> None:
    k8s.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, field_validation="Strict"
    )


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_invalid_manifest_is_refused_naming_the_field(
    kube_api: k8s.ApiClient, namespace: str, case: InvalidCase
) -> None:
    body = case.manifest(f"invalid-{case.id}"[:63])
    with pytest.raises(ApiException) as refused:
        create(kube_api, namespace, body)
    # 422 for schema and CEL failures; 400 for strict decoding of unknown fields.
    assert refused.value.status in (400, 422), refused.value.body
    message = cast(dict[str, Any], json.loads(refused.value.body or "{}"))["message"]
    assert case.refused_at in message, message
    for word in case.words:
        assert word in message, message

    with pytest.raises(ManifestError) as model_refused:
        parse_contact_sync(body)
    assert any(p.startswith(case.refused_at) for p in model_refused.value.problems), (
        model_refused.value
    )


@pytest.mark.parametrize("case", MODEL_ONLY, ids=[c.id for c in MODEL_ONLY])
def test_what_no_cel_rule_can_check_is_admitted_and_refused_by_the_model(
    kube_api: k8s.ApiClient, namespace: str, case: InvalidCase
) -> None:
    # The API server has no time zone database and cannot parse a nested LDAP filter; the
    # operator refuses what it admits (Degraded, reason InvalidSpec) before anything runs.
    body = case.manifest(f"admitted-{case.id}"[:63])
    create(kube_api, namespace, body)
    with pytest.raises(ManifestError) as model_refused:
        parse_contact_sync(body)
    assert [p.split(": ", 1)[0] for p in model_refused.value.problems] == [case.refused_at]


def test_invalid_corpus_is_large_enough() -> None:
    assert len(INVALID) >= 30
    assert len({c.id for c in INVALID}) == len(INVALID)


def test_identity_cannot_change_after_creation(kube_api: k8s.ApiClient, namespace: str) -> None:
    body = example("quickstart")
    body["metadata"] = {"name": "identity-fixed"}
    create(kube_api, namespace, body)
    objects = k8s.CustomObjectsApi(kube_api)
    with pytest.raises(ApiException) as refused:
        objects.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "identity-fixed", {"spec": {"identity": ["email"]}}
        )
    assert refused.value.status == 422
    assert "spec.identity" in json.loads(refused.value.body or "{}")["message"]


def test_source_region_cannot_change(kube_api: k8s.ApiClient, namespace: str) -> None:
    body = example("multi-region")
    body["metadata"] = {"name": "region-fixed"}
    create(kube_api, namespace, body)
    moved = example("multi-region")["spec"]["sources"]
    moved[1]["region"] = "us-east-1"
    with pytest.raises(ApiException) as refused:
        k8s.CustomObjectsApi(kube_api).patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "region-fixed", {"spec": {"sources": moved}}
        )
    assert refused.value.status == 422
    assert "spec.sources[1].region" in json.loads(refused.value.body or "{}")["message"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("contactsync.spec", "What to sync, where it may be processed"),
        ("contactsync.spec.sources", "Where contacts come from"),
        ("contactsync.spec.sources.ldap.baseDN", "Search base"),
        ("contactsync.spec.regions", "Regions that may process and hold contacts"),
        ("contactsync.spec.regions.encryption", "Payload encryption keys"),
        ("contactsync.spec.retention", "auditLog"),
        ("contactsync.spec.retention.removedContacts", "Grace period"),
        ("contactsync.spec.sources.csv.mapping", "canonical"),
        ("contactsync.spec.sources.csv.mapping.preset", "outlook-csv"),
        ("contactsync.spec.sources.ldap.mapping", "homePostalAddress"),
        ("contactsync.spec.sources.jsonl.mapping.entries.typeFrom", "preferred"),
    ],
)
def test_kubectl_explain_teaches_the_field(
    kube_control_plane: KubeControlPlane, contactsync_crd: str, path: str, expected: str
) -> None:
    assert expected in kubectl(kube_control_plane.admin_kubeconfig, "explain", path)


def test_kubectl_get_shows_printer_columns_by_short_name(
    kube_control_plane: KubeControlPlane, kube_api: k8s.ApiClient, namespace: str
) -> None:
    body = example("multi-region")
    body["metadata"] = {"name": "columns"}
    create(kube_api, namespace, body)
    k8s.CustomObjectsApi(kube_api).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        "columns",
        {
            "status": {
                "regionsReady": "1/2",
                "schedule": "*/15 * * * * (Europe/Berlin)",
                "lastSyncTime": "2026-11-26T10:00:00Z",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "RegionsNotReady",
                        "lastTransitionTime": "2026-11-26T10:00:00Z",
                    }
                ],
            }
        },
    )
    table = kubectl(
        kube_control_plane.admin_kubeconfig, "get", "csync", "columns", f"--namespace={namespace}"
    )
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "READY", "REGIONS", "SCHEDULE", "LAST", "SYNC", "AGE"]
    assert row.split()[:3] == ["columns", "False", "1/2"]
    assert "*/15 * * * * (Europe/Berlin)" in row
    by_category = kubectl(
        kube_control_plane.admin_kubeconfig, "get", "contactsync", f"--namespace={namespace}"
    )
    assert "columns" in by_category


def test_status_fields_are_kept_not_pruned(kube_api: k8s.ApiClient, namespace: str) -> None:
    body = example("quickstart")
    body["metadata"] = {"name": "status-kept"}
    create(kube_api, namespace, body)
    status = {
        "observedGeneration": 1,
        "regions": [
            {
                "name": "local",
                "taskQueue": "q",
                "scheduleId": "s",
                "workers": {"desired": 1, "ready": 1},
                "lastSync": {
                    "result": "Succeeded",
                    "created": 10,
                    "updated": 3,
                    "deleted": 1,
                    "skippedNoConsent": 4,
                    "quarantined": 0,
                },
            }
        ],
    }
    objects = k8s.CustomObjectsApi(kube_api)
    objects.patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, "status-kept", {"status": status}
    )
    stored = cast(
        dict[str, Any],
        objects.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "status-kept"),
    )
    assert_contained(status, stored["status"])
