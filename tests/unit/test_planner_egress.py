"""The planner under egress policies: a namespace no policy selects gets no new workers, and
the workers it has are narrowed to no egress. No cluster."""

from __future__ import annotations

import json

from contactsync_api.egress_policy import EgressPolicy, parse_egress_policy
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.reasons import Reason
from contactsync_api.spec import RegionConfig
from contactsync_operator.observed import Observed
from contactsync_operator.planner import CreateSchedule, DeleteSchedule, Plan, plan
from contactsync_operator.settings import OperatorSettings
from tests.corpus.manifests import example
from tests.operator_state import in_sync

SETTINGS = OperatorSettings()
LABELS = {"kubernetes.io/metadata.name": "sales", "team": "sales"}


def resource() -> ContactSync:
    document = example("multi-region")
    document["metadata"].update(uid="uid-1", namespace="sales")
    return parse_contact_sync(document)


def policy(selector: dict[str, object]) -> EgressPolicy:
    return parse_egress_policy(
        {
            "metadata": {"name": "public"},
            "spec": {"namespaceSelector": selector, "allow": [{"cidr": "0.0.0.0/0"}]},
        }
    )


def with_policies(observed: Observed, *policies: EgressPolicy) -> Observed:
    observed.egress_policies = policies
    observed.namespace_labels = dict(LABELS)
    return observed


def configs(result: Plan) -> list[RegionConfig]:
    return [
        RegionConfig.model_validate(json.loads(m["data"]["region.json"]))
        for m in result.apply
        if m["kind"] == "ConfigMap"
    ]


def test_a_namespace_no_policy_selects_gets_no_workers_and_says_why() -> None:
    other_team = policy({"matchLabels": {"team": "hr"}})
    result = plan(resource(), with_policies(Observed(), other_team), SETTINGS)
    assert result.apply == []
    assert result.schedules == []
    assert [r.blocked_reason for r in result.regions] == [Reason.EGRESS_NOT_ALLOWED] * 2
    assert "no ContactSyncEgressPolicy selects namespace sales" in (
        result.regions[0].blocked_message or ""
    )


def test_workers_that_exist_when_the_last_policy_goes_are_narrowed_to_no_egress() -> None:
    res = resource()
    observed = with_policies(in_sync(res, SETTINGS))  # deployed before policies existed
    result = plan(res, observed, SETTINGS)
    assert sorted({m["kind"] for m in result.apply}) == ["ConfigMap", "Deployment", "NetworkPolicy"]
    for config in configs(result):
        assert config.egress is not None
        assert (config.egress.policies, config.egress.allow) == ([], [])
    assert result.delete == []
    assert not [c for c in result.schedules if isinstance(c, DeleteSchedule)], "schedules stay"


def test_a_selecting_policy_deploys_the_region_with_its_blocks() -> None:
    result = plan(resource(), with_policies(Observed(), policy({})), SETTINGS)
    assert [r.blocked_reason for r in result.regions] == [None, None]
    assert len([c for c in result.schedules if isinstance(c, CreateSchedule)]) == 4
    for config in configs(result):
        assert config.egress is not None
        assert config.egress.policies == ["public"]
        assert config.egress.allow[0].except_ == ["169.254.0.0/16"]


def test_unobserved_policies_leave_the_plan_as_it_was() -> None:
    res = resource()
    assert plan(res, in_sync(res, SETTINGS), SETTINGS).apply == []
