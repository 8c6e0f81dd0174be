"""Which egress policies select a namespace, and what they add up to. No cluster."""

from __future__ import annotations

from typing import Any

import pytest

from contactsync_api.egress import EgressRule
from contactsync_api.egress_policy import EgressPolicy, LabelSelector, parse_egress_policy
from contactsync_api.reasons import Reason
from contactsync_operator.egress_selection import (
    denial,
    egress_for,
    region_egress,
    selecting,
    without_link_local,
)


def policy(
    name: str, selector: dict[str, Any], *rules: dict[str, Any], **spec: Any
) -> EgressPolicy:
    document = {
        "metadata": {"name": name},
        "spec": {"namespaceSelector": selector, "allow": list(rules), **spec},
    }
    return parse_egress_policy(document)


HR = {"kubernetes.io/metadata.name": "hr", "team": "hr", "tier": "gold"}


@pytest.mark.parametrize(
    ("selector", "selects_hr"),
    [
        ({}, True),
        ({"matchLabels": {"team": "hr"}}, True),
        ({"matchLabels": {"team": "sales"}}, False),
        ({"matchLabels": {"team": "hr", "tier": "silver"}}, False),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["hr", "x"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["hr"]}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, False),
        ({"matchExpressions": [{"key": "absent", "operator": "DoesNotExist"}]}, True),
        (
            {
                "matchLabels": {"team": "hr"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["bronze"]}],
            },
            False,
        ),
    ],
)
def test_a_namespace_selector_matches_labels_as_kubernetes_does(
    selector: dict[str, Any], selects_hr: bool
) -> None:
    assert LabelSelector.model_validate(selector).matches(HR) is selects_hr


def test_only_the_policies_whose_selector_matches_apply_in_name_order() -> None:
    everyone = policy("z-everyone", {}, {"cidr": "0.0.0.0/0"})
    hr = policy("a-hr", {"matchLabels": {"team": "hr"}}, {"cidr": "10.20.0.0/16"})
    sales = policy("sales", {"matchLabels": {"team": "sales"}}, {"cidr": "10.30.0.0/16"})
    chosen = selecting([everyone, sales, hr], HR)
    assert [p.name for p in chosen] == ["a-hr", "z-everyone"]


def test_policies_add_up_and_the_same_block_is_listed_once() -> None:
    ldap = {"cidr": "10.20.0.0/16", "ports": [636]}
    first = policy("first", {}, {"cidr": "203.0.113.0/24"}, ldap)
    second = policy("second", {}, {"cidr": "203.0.113.0/24"})
    egress = region_egress([first, second])
    assert egress.policies == ["first", "second"]
    assert [(r.cidr, r.ports) for r in egress.allow] == [
        ("203.0.113.0/24", None),
        ("10.20.0.0/16", [636]),
    ]
    assert egress.allow_link_local is False


def test_without_allow_link_local_the_link_local_ranges_are_cut_out_of_wide_blocks() -> None:
    wide = policy("wide", {}, {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}, {"cidr": "::/0"})
    egress = region_egress([wide])
    v4, v6 = egress.allow
    assert v4.except_ == ["10.0.0.0/8", "169.254.0.0/16"]
    assert v6.except_ == ["fe80::/10", "fd00:ec2::254/128"]


def test_a_block_that_excepts_link_local_already_is_left_as_it_is() -> None:
    careful = policy("careful", {}, {"cidr": "0.0.0.0/0", "except": ["128.0.0.0/1"]})
    assert region_egress([careful]).allow[0].except_ == ["128.0.0.0/1"]


def test_one_policys_allow_link_local_does_not_open_another_policys_blocks() -> None:
    metadata = policy(
        "metadata", {}, {"cidr": "169.254.169.254/32", "ports": [80]}, allowLinkLocal=True
    )
    public = policy("public", {}, {"cidr": "0.0.0.0/0"})
    egress = region_egress([metadata, public])
    assert egress.allow_link_local is True
    by_cidr = {r.cidr: r for r in egress.allow}
    assert by_cidr["169.254.169.254/32"].except_ == []
    assert by_cidr["0.0.0.0/0"].except_ == ["169.254.0.0/16"]


def test_a_stored_link_local_block_without_the_opt_in_allows_nothing() -> None:
    rule = EgressRule.model_validate({"cidr": "169.254.0.0/16"})
    assert without_link_local(rule) is None


def test_unobserved_policies_restrict_nothing_and_no_policy_denies_with_a_reason() -> None:
    assert egress_for(None, HR) is None
    assert denial(None, "hr") is None
    sales = policy("sales", {"matchLabels": {"team": "sales"}}, {"cidr": "::/0"})
    nothing = egress_for([sales], HR)
    assert nothing is not None
    assert (nothing.policies, nothing.allow) == ([], [])
    denied = denial(nothing, "hr")
    assert denied is not None
    reason, message = denied
    assert reason == Reason.EGRESS_NOT_ALLOWED
    assert "namespace hr" in message
    assert "platform admin must create" in message
    assert denial(egress_for([policy("all", {}, {"cidr": "::/0"})], HR), "hr") is None
