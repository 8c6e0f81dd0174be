"""``contactsync keys`` manifests on a real API server: applied as they are, read back by the
operator's own Secret reader and keys parser, and rotated from what kubectl gives back."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kubernetes import client as k8s

from contactsync_api.manifest import parse_contact_sync
from contactsync_cli.main import main
from contactsync_operator.kube import KubeGateway, SecretMeta
from contactsync_operator.region_keys import RegionKeys, parse_keys_secret
from contactsync_operator.secret_access import check_secrets
from tests.servers.kube import KubeControlPlane
from tests.support import kubectl

pytestmark = pytest.mark.kube

REGION = "eu-central-1"
SECRET = "phonebook-keys"


@pytest.fixture
def namespace(kube_api: k8s.ApiClient) -> str:
    name = f"keys-{uuid.uuid4().hex[:8]}"
    k8s.CoreV1Api(kube_api).create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    return name


def region_keys(kube_api: k8s.ApiClient, namespace: str) -> RegionKeys:
    """The Secret as the operator reads it for a reconcile."""
    stored = KubeGateway(kube_api).secret(namespace, SECRET)
    assert stored is not None
    keys = parse_keys_secret(REGION, SECRET, stored.data)
    assert isinstance(keys, RegionKeys), keys
    return keys


def test_a_generated_manifest_applies_as_is_and_the_operator_takes_its_keys(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    args = ["keys", "generate", "--region", REGION, "--secret-name", SECRET]
    assert main([*args, "--namespace", namespace, "--contactsync", "phonebook"]) == 0
    manifest = capsys.readouterr().out
    kubectl(kube_control_plane.admin_kubeconfig, "apply", "-f", "-", stdin=manifest)

    keys = region_keys(kube_api, namespace)
    assert len(keys.keyring) == 1
    assert keys.request_key is not None
    assert set(keys.names) == {keys.keyring.newest_id, "pseudonym", "requests.key"}
    assert keys.for_workers.requests_public_key is not None

    resource = parse_contact_sync(
        {
            "apiVersion": "contactsync.dev/v1alpha1",
            "kind": "ContactSync",
            "metadata": {"name": "phonebook", "namespace": namespace},
            "spec": {
                "schedule": {"interval": "15m"},
                "regions": [{"name": REGION, "encryption": {"keysSecretRef": {"name": SECRET}}}],
                "sources": [
                    {
                        "name": "book",
                        "region": REGION,
                        "carddav": {"url": "http://127.0.0.1:5232/a/", "allowInsecure": True},
                    }
                ],
                "destinations": [
                    {
                        "name": "copy",
                        "region": REGION,
                        "carddav": {"url": "http://127.0.0.1:5232/b/", "allowInsecure": True},
                    }
                ],
                "fields": ["fullName"],
            },
        }
    )
    gateway = KubeGateway(kube_api)

    def meta(name: str) -> SecretMeta | None:
        stored = gateway.secret(namespace, name)
        return stored.meta if stored else None

    # Labelled for the ContactSync by --contactsync: its workers may mount it.
    assert check_secrets(resource, resource.spec.regions[0], meta) is None


def test_a_secret_fetched_with_kubectl_is_rotated_and_replaced(
    kube_control_plane: KubeControlPlane,
    kube_api: k8s.ApiClient,
    namespace: str,
    tmp_path: Path,
) -> None:
    kubeconfig = kube_control_plane.admin_kubeconfig
    generated = tmp_path / "generated.yaml"
    args = ["keys", "generate", "--region", REGION, "--secret-name", SECRET]
    assert main([*args, "--namespace", namespace, "--manifest", str(generated)]) == 0
    kubectl(kubeconfig, "apply", "-f", str(generated))
    [first] = region_keys(kube_api, namespace).keyring

    fetched = tmp_path / "fetched.yaml"
    fetched.write_text(kubectl(kubeconfig, "get", "secret", SECRET, "-n", namespace, "-o", "yaml"))
    assert main(["keys", "rotate", "--manifest", str(fetched), "--pseudonym"]) == 0
    kubectl(kubeconfig, "replace", "-f", str(fetched))
    rotated = region_keys(kube_api, namespace)
    assert list(rotated.keyring) == [first, rotated.keyring.newest_id]
    assert "pseudonym-previous" in rotated.names

    # Removals reach the cluster too: replace writes the Secret whole (apply would keep
    # entries it did not add itself, such as those of a Secret made with kubectl create).
    assert main(["keys", "rotate", "--manifest", str(fetched), "--retire", first]) == 0
    assert (
        main(["keys", "rotate", "--manifest", str(fetched), "--retire", "pseudonym-previous"]) == 0
    )
    kubectl(kubeconfig, "replace", "-f", str(fetched))
    retired = region_keys(kube_api, namespace)
    assert list(retired.keyring) == [rotated.keyring.newest_id]
    assert "pseudonym-previous" not in retired.names
