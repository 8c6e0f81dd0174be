"""ContactSyncEgressPolicy: where the workers of the namespaces it selects may connect.

Cluster-scoped and written by platform admins, not by the namespace users who write
ContactSyncs: a manifest names the servers to sync with, a policy bounds which of them may be
reached. The CRD (``crds/contactsyncegresspolicy.yaml``) is generated from these classes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError

from contactsync_api.egress import (
    CEL_IS_CIDR,
    LINK_LOCAL,
    MAX_RULES,
    EgressRule,
    is_link_local,
    parse_cidr,
)
from contactsync_api.manifest import ManifestError, validation_problems
from contactsync_api.rules import Rule, RuledModel
from contactsync_api.spec import GROUP, VERSION
from contactsync_api.values import SpecModel

KIND = "ContactSyncEgressPolicy"
PLURAL = "contactsyncegresspolicies"
API_VERSION = f"{GROUP}/{VERSION}"

# Kubernetes label keys (optional DNS-subdomain prefix and a name) and values.
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE_PATTERN = r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$"
LabelKey = Annotated[str, StringConstraints(pattern=LABEL_KEY_PATTERN, max_length=317)]
LabelValue = Annotated[str, StringConstraints(pattern=LABEL_VALUE_PATTERN, max_length=63)]
_LINK_LOCAL_LIST = ", ".join(str(network) for network in LINK_LOCAL)
_LINK_LOCAL_CEL = "[" + ", ".join(f"'{network}'" for network in LINK_LOCAL) + "]"


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(RuledModel, SpecModel):
    """One condition on a namespace's labels, as in a Kubernetes label selector."""

    rules = (
        Rule(
            cel=(
                "(self.operator == 'In' || self.operator == 'NotIn') "
                "== (has(self.values) && size(self.values) > 0)"
            ),
            message=(
                "values: In and NotIn need at least one value; Exists and DoesNotExist take none"
            ),
            holds=lambda m: (
                (m.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN)) == bool(m.values)
            ),
            field_path=".values",
        ),
    )

    key: LabelKey = Field(description="The label key, e.g. kubernetes.io/metadata.name.")
    operator: SelectorOperator = Field(description="In, NotIn, Exists or DoesNotExist.")
    values: Annotated[list[LabelValue], Field(max_length=64)] | None = Field(
        default=None,
        description="Label values for In and NotIn.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator is SelectorOperator.EXISTS:
            return present
        if self.operator is SelectorOperator.DOES_NOT_EXIST:
            return not present
        inside = present and labels[self.key] in (self.values or ())
        return inside if self.operator is SelectorOperator.IN else not inside


class LabelSelector(SpecModel):
    """Namespaces by their labels; every condition must hold, and {} selects every namespace."""

    match_labels: dict[str, LabelValue] | None = Field(
        default=None, description="Labels a namespace must carry, with these values."
    )
    match_expressions: Annotated[list[LabelSelectorRequirement], Field(max_length=16)] | None = (
        Field(default=None, description="Conditions on a namespace's labels.")
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        wanted = self.match_labels or {}
        return all(labels.get(k) == v for k, v in wanted.items()) and all(
            requirement.matches(labels) for requirement in self.match_expressions or ()
        )


def _names_link_local(rule: EgressRule) -> bool:
    network = parse_cidr(rule.cidr)
    return network is not None and is_link_local(network)


class ContactSyncEgressPolicySpec(RuledModel, SpecModel):
    """Which addresses the workers of the selected namespaces may connect to (policies add up)."""

    rules = (
        Rule(
            cel=(
                f"self.allowLinkLocal || self.allow.all(r, !({CEL_IS_CIDR.format('r.cidr')}) || "
                f"!{_LINK_LOCAL_CEL}.exists(l, cidr(l).containsCIDR(r.cidr)))"
            ),
            message=(
                f"allow[].cidr names a link-local or instance-metadata block ({_LINK_LOCAL_LIST}): "
                "set allowLinkLocal: true to allow it"
            ),
            holds=lambda m: m.allow_link_local or not any(_names_link_local(r) for r in m.allow),
            field_path=".allow",
        ),
    )

    namespace_selector: LabelSelector = Field(
        description=(
            "The namespaces whose ContactSyncs' workers this policy applies to; {} selects "
            "every namespace. A namespace no policy selects gets no workers."
        )
    )
    allow: Annotated[list[EgressRule], Field(min_length=1, max_length=MAX_RULES)] = Field(
        description=(
            "Blocks the workers may connect to. Each becomes a NetworkPolicy ipBlock peer, and "
            "workers refuse any host that resolves outside them."
        )
    )
    allow_link_local: bool = Field(
        default=False,
        description=(
            "Let workers reach link-local addresses (169.254.0.0/16, fe80::/10) and "
            "fd00:ec2::254, where cloud instance metadata answers, when allow covers them. "
            "Otherwise they are refused, and cut out of the blocks that contain them."
        ),
    )


@dataclass(frozen=True)
class EgressPolicy:
    """One ContactSyncEgressPolicy as the operator reads it."""

    name: str
    spec: ContactSyncEgressPolicySpec


def parse_egress_policy(document: Any) -> EgressPolicy:
    """A stored policy, typed; ManifestError names what is wrong with it."""
    if not isinstance(document, dict):
        raise ManifestError(KIND, ["a policy must be a mapping"])
    name = str((document.get("metadata") or {}).get("name") or "")
    try:
        spec = ContactSyncEgressPolicySpec.model_validate(document.get("spec"))
    except ValidationError as exc:
        raise ManifestError(f"{KIND} {name}", validation_problems(exc)) from exc
    return EgressPolicy(name, spec)
