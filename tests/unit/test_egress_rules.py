"""A region's NetworkPolicy names peers from its egress policy, and its workers are told the
same policy. No cluster."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from contactsync_api.egress import RegionEgress
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.spec import RegionConfig
from contactsync_operator.children import egress_ports, worker_objects
from contactsync_operator.egress_rules import egress_rules
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example

SETTINGS = OperatorSettings()
EU = "eu-central-1"
DNS = {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
PUBLIC = {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "169.254.0.0/16"]}
DIRECTORY = {"cidr": "10.20.0.0/16", "ports": [636]}
EGRESS = RegionEgress.model_validate(
    {"policies": ["public", "hr-directory"], "allow": [PUBLIC, DIRECTORY]}
)


def multi_region(**region_changes: Any) -> ContactSync:
    document = example("multi-region")
    document["metadata"]["uid"] = "uid-1"
    document["spec"]["regions"][0].update(region_changes)
    return parse_contact_sync(document)


def made(
    resource: ContactSync, egress: RegionEgress | None, settings: OperatorSettings = SETTINGS
) -> dict[str, dict[str, Any]]:
    region = next(r for r in resource.spec.regions if r.name == EU)
    return {m["kind"]: m for m in worker_objects(resource, region, settings, egress=egress)}


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def test_endpoints_are_reached_only_at_the_blocks_the_policy_allows() -> None:
    egress = made(multi_region(), EGRESS)["NetworkPolicy"]["spec"]["egress"]
    assert egress == [
        DNS,
        {"ports": tcp(7233)},  # the operator's Temporal frontend: the platform's choice
        {"to": [{"ipBlock": PUBLIC}], "ports": tcp(443, 636, 5432)},
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": tcp(636)},
    ]


def test_the_temporal_frontend_gets_the_peers_the_platform_configured() -> None:
    peers = ({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "temporal"}}},)
    settings = replace(SETTINGS, worker_temporal_peers=peers)
    egress = made(multi_region(), EGRESS, settings)["NetworkPolicy"]["spec"]["egress"]
    assert egress[1] == {"ports": tcp(7233), "to": list(peers)}


def test_a_frontend_the_region_names_is_reached_only_where_the_policy_allows() -> None:
    resource = multi_region(temporal={"address": "temporal.eu.example:7443"})
    egress = made(resource, EGRESS)["NetworkPolicy"]["spec"]["egress"]
    assert {"ports": tcp(7233)} not in egress
    assert egress[1] == {"to": [{"ipBlock": PUBLIC}], "ports": tcp(443, 636, 5432, 7443)}


def test_without_any_policy_only_dns_and_temporal_remain() -> None:
    nothing = RegionEgress(policies=[], allow=[])
    egress = made(multi_region(), nothing)["NetworkPolicy"]["spec"]["egress"]
    assert egress == [DNS, {"ports": tcp(7233)}]


def test_no_rule_is_ever_left_without_peers_or_ports_which_would_mean_all() -> None:
    ported_only = RegionEgress.model_validate({"policies": ["p"], "allow": [DIRECTORY]})
    for rule in egress_rules(ported_only, [443], 7233)[1:]:
        assert rule.get("ports")
    for rule in egress_rules(ported_only, [443], 7233)[2:]:
        assert rule.get("to")
    assert egress_rules(EGRESS, [], None) == [
        DNS,
        {"to": [{"ipBlock": {"cidr": "10.20.0.0/16"}}], "ports": tcp(636)},
    ]


def test_without_an_observed_policy_the_network_policy_is_what_it_was_before_policies() -> None:
    resource = multi_region()
    egress = made(resource, None)["NetworkPolicy"]["spec"]["egress"]
    assert egress == [DNS, {"ports": tcp(*egress_ports(resource, EU, SETTINGS))}]


def test_workers_are_told_the_policy_in_their_region_config() -> None:
    document = json.loads(made(multi_region(), EGRESS)["ConfigMap"]["data"]["region.json"])
    config = RegionConfig.model_validate(document)
    assert config.egress == EGRESS
    assert document["egress"]["allow"][0]["except"] == PUBLIC["except"]
    unrestricted = json.loads(made(multi_region(), None)["ConfigMap"]["data"]["region.json"])
    assert "egress" not in unrestricted
