"""Which ContactSyncEgressPolicies apply to a namespace, and what they add up to (pure).

Policies add up, as NetworkPolicies do: a region may reach what any selecting policy allows.
A policy that does not set allowLinkLocal has the link-local ranges cut out of its blocks,
so another policy's allowLinkLocal cannot open them through this one's 0.0.0.0/0, and the
NetworkPolicy (which knows nothing of allowLinkLocal) refuses them as the workers do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contactsync_api.egress import (
    LINK_LOCAL,
    EgressRule,
    RegionEgress,
    inside,
    is_link_local,
    parse_cidr,
)
from contactsync_api.egress_policy import EgressPolicy
from contactsync_api.reasons import Reason


def selecting(
    policies: Sequence[EgressPolicy], namespace_labels: Mapping[str, str]
) -> list[EgressPolicy]:
    """The policies whose namespaceSelector matches the labels, by name."""
    chosen = [p for p in policies if p.spec.namespace_selector.matches(namespace_labels)]
    return sorted(chosen, key=lambda p: p.name)


def region_egress(policies: Sequence[EgressPolicy]) -> RegionEgress:
    """What ``policies`` together allow. No policies: nothing at all."""
    rules: dict[str, EgressRule] = {}
    for policy in policies:
        for rule in policy.spec.allow:
            kept = rule if policy.spec.allow_link_local else without_link_local(rule)
            if kept is not None:
                rules.setdefault(kept.model_dump_json(), kept)
    return RegionEgress(
        policies=[p.name for p in policies],
        allow=list(rules.values()),
        allow_link_local=any(p.spec.allow_link_local for p in policies),
    )


def without_link_local(rule: EgressRule) -> EgressRule | None:
    """``rule`` with the link-local ranges inside its block excepted; None when the whole block
    is link-local (the API server refuses such a rule without allowLinkLocal, but a policy
    stored before that rule existed may hold one)."""
    network = parse_cidr(rule.cidr)
    if network is None or is_link_local(network):
        return None
    excepted = [n for n in map(parse_cidr, rule.except_) if n is not None]
    added = [
        str(link)
        for link in LINK_LOCAL
        if inside(link, network)
        and link.prefixlen > network.prefixlen
        and not any(inside(link, e) for e in excepted)
    ]
    if not added:
        return rule
    return rule.model_copy(update={"except_": [*rule.except_, *added]})


def egress_for(
    policies: Sequence[EgressPolicy] | None, namespace_labels: Mapping[str, str]
) -> RegionEgress | None:
    """The egress of a namespace's regions; None when policies were not observed (local mode,
    tests of other things): then nothing restricts the workers beyond link-local addresses."""
    if policies is None:
        return None
    return region_egress(selecting(policies, namespace_labels))


def denial(egress: RegionEgress | None, namespace: str) -> tuple[Reason, str] | None:
    """Reason and message when no policy selects the namespace, else None."""
    if egress is None or egress.policies:
        return None
    return (
        Reason.EGRESS_NOT_ALLOWED,
        f"no ContactSyncEgressPolicy selects namespace {namespace}: a platform admin must "
        "create one (kubectl get csegress) that allows the servers this region connects to. "
        "No worker is deployed; workers that exist keep running but may connect nowhere",
    )
