"""The worker objects a region gets: pinned, locked down, secrets only by reference."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Any

import pytest

from contactsync_api.errors import Unauthorized
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.spec import RegionConfig
from contactsync_api.workflows import RegionRunRequest
from contactsync_operator.children import egress_ports, worker_objects
from contactsync_operator.region_keys import RegionKeys, parse_keys_secret
from contactsync_operator.settings import OperatorSettings
from contactsync_worker import authorization
from tests.corpus.manifests import example

SETTINGS = OperatorSettings(temporal=OperatorSettings().temporal, region_label="example.com/region")


def objects(region: str = "eu-central-1") -> dict[str, dict[str, Any]]:
    res = multi_region()
    declared = next(r for r in res.spec.regions if r.name == region)
    return {m["kind"]: m for m in worker_objects(res, declared, SETTINGS)}


def multi_region() -> ContactSync:
    document = example("multi-region")
    document["metadata"]["uid"] = "uid-1"
    return parse_contact_sync(document)


def test_deployment_requires_nodes_of_its_region_under_the_configured_label() -> None:
    pod = objects()["Deployment"]["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"] == [
        {
            "matchExpressions": [
                {"key": "example.com/region", "operator": "In", "values": ["eu-central-1"]}
            ]
        }
    ]
    assert pod["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"


def test_pod_is_locked_down() -> None:
    pod = objects()["Deployment"]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["resources"]["requests"] == {"cpu": "100m", "memory": "256Mi"}


def test_secrets_arrive_as_volumes_never_as_values() -> None:
    pod = objects()["Deployment"]["spec"]["template"]["spec"]
    secret_volumes = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secret_volumes == {
        "eu-contact-keys",
        "ldap-eu-bind",
        "dav-eu",
        "eu-phonebook",
        "eu-store",
    }
    env = pod["containers"][0]["env"]
    assert all(set(e) == {"name", "value"} for e in env), "no secretKeyRef, no valueFrom"
    assert not any("us-" in v.get("secret", {}).get("secretName", "") for v in pod["volumes"])


def test_region_config_holds_only_the_region_and_parses_back() -> None:
    config_map = objects()["ConfigMap"]
    document = json.loads(config_map["data"]["region.json"])
    config = RegionConfig.model_validate(document)
    assert config.region.name == "eu-central-1"
    assert [s.name for s in config.sources] == ["hr-eu", "sales-eu"]
    assert [d.name for d in config.destinations] == ["phonebook-eu"]
    assert "us-east-1" not in config_map["data"]["region.json"]


def test_every_child_is_owned_by_the_contact_sync() -> None:
    for manifest in objects().values():
        [owner] = manifest["metadata"]["ownerReferences"]
        assert owner["uid"] == "uid-1"
        assert owner["controller"] is True


def test_a_region_with_its_own_temporal_may_dial_that_port_and_its_workers_are_told_so() -> None:
    document = example("multi-region")
    document["metadata"]["uid"] = "uid-1"
    document["spec"]["regions"][0]["temporal"] = {"address": "temporal.eu.example:7443"}
    resource = parse_contact_sync(document)
    eu = resource.spec.regions[0]
    assert 7443 in egress_ports(resource, eu.name, SETTINGS)
    assert 7233 not in egress_ports(resource, eu.name, SETTINGS)
    deployment = next(
        m for m in worker_objects(resource, eu, SETTINGS) if m["kind"] == "Deployment"
    )
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["TEMPORAL_ADDRESS"] == "temporal.eu.example:7443"


def test_a_region_without_postgres_keeps_its_state_on_a_claim_of_its_own() -> None:
    document = example("quickstart")
    document["metadata"] = {"name": "book", "namespace": "ns", "uid": "uid-1"}
    resource = parse_contact_sync(document)
    region = resource.spec.regions[0]
    assert region.store is None
    made = {m["kind"]: m for m in worker_objects(resource, region, SETTINGS)}
    claim = made["PersistentVolumeClaim"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    deployment = made["Deployment"]["spec"]
    [state] = [v for v in deployment["template"]["spec"]["volumes"] if v["name"] == "state"]
    assert state == {
        "name": "state",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    assert deployment["strategy"] == {"type": "Recreate"}


def test_a_region_with_postgres_needs_no_claim() -> None:
    made = objects()
    assert "PersistentVolumeClaim" not in made
    [state] = [
        v for v in made["Deployment"]["spec"]["template"]["spec"]["volumes"] if v["name"] == "state"
    ]
    assert "emptyDir" in state


def test_network_policy_allows_only_the_ports_the_region_dials() -> None:
    assert egress_ports(multi_region(), "eu-central-1", SETTINGS) == [443, 636, 5432, 7233]
    assert egress_ports(multi_region(), "us-east-1", SETTINGS) == [389, 443, 5432, 7233]
    policy = objects()["NetworkPolicy"]["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]


def test_workers_never_mount_the_request_key_and_get_its_public_half() -> None:
    seed = secrets.token_bytes(32)
    data = {
        "k0001": base64.b64encode(secrets.token_bytes(32)),
        "pseudonym": base64.b64encode(secrets.token_bytes(32)),
        "requests.key": base64.b64encode(seed),
    }
    keys = parse_keys_secret("eu-central-1", "eu-contact-keys", data)
    assert isinstance(keys, RegionKeys)
    res = multi_region()
    declared = next(r for r in res.spec.regions if r.name == "eu-central-1")
    made = {m["kind"]: m for m in worker_objects(res, declared, SETTINGS, (), keys.for_workers)}
    volumes = made["Deployment"]["spec"]["template"]["spec"]["volumes"]
    keys_volume = next(v for v in volumes if v["name"] == "keys")["secret"]
    assert keys_volume["items"] == [
        {"key": "k0001", "path": "k0001"},
        {"key": "pseudonym", "path": "pseudonym"},
    ]
    config = RegionConfig.model_validate_json(made["ConfigMap"]["data"]["region.json"])
    # What the workers are told verifies what the operator signs, and only that.
    request = RegionRunRequest("contacts", "global-phonebook", "eu-central-1")
    now = datetime.now(UTC)
    signed = keys.signed_purge(request, "purge-1", now)
    assert signed is not None
    authorization.verify(config.requests_public_key, authorization.PURGE, signed, "purge-1", now)
    with pytest.raises(Unauthorized):
        authorization.verify(config.requests_public_key, authorization.PURGE, signed, "x", now)


def tmp_size_limit(resource: ContactSync) -> Any:
    made = {m["kind"]: m for m in worker_objects(resource, resource.spec.regions[0], SETTINGS)}
    volumes = made["Deployment"]["spec"]["template"]["spec"]["volumes"]
    [tmp] = [v for v in volumes if v["name"] == "tmp"]
    return tmp["emptyDir"]["sizeLimit"]


def test_tmp_has_room_for_what_each_source_keeps_on_disk() -> None:
    document = example("consent-retention")  # a CSV and a JSON Lines source
    document["metadata"]["uid"] = "uid-1"

    # 64 MiB for Python itself; per file, two versions of a 64 MiB copy and its 128 MiB index;
    # per address book, two versions of a 256 MiB listing.
    files, book = 2 * 2 * (64 + 128), 2 * 256
    assert tmp_size_limit(parse_contact_sync(document)) == f"{64 + files}Mi"
    # The first region reads an LDAP directory (nothing on disk) and one address book.
    assert tmp_size_limit(multi_region()) == f"{64 + book}Mi"


def test_tmp_grows_with_the_max_bytes_a_file_source_sets() -> None:
    document = example("consent-retention")
    document["metadata"]["uid"] = "uid-1"
    document["spec"]["sources"][1]["jsonl"]["maxBytes"] = 512 * 2**20

    # The CSV source keeps the default 64 MiB; the JSON Lines one two versions of 512 + 1024.
    expected = 64 + 2 * (64 + 128) + 2 * (512 + 1024)
    assert tmp_size_limit(parse_contact_sync(document)) == f"{expected}Mi"
