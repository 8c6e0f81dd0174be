"""What ``contactsync render`` is asked for, apart from the renderer: the parser needs these
names, and every command's parser is built at each start of ``contactsync`` (the worker's
included), which must not import the operator's planner and the Temporal client for them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from contactsync_api.egress_policy import EgressPolicy

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by Kubernetes on every namespace


class Only(StrEnum):
    KUBERNETES = "kubernetes"
    SCHEDULES = "schedules"


@dataclass(frozen=True)
class Egress:
    """The ContactSyncEgressPolicies to plan with, and the labels of the namespaces beyond the
    one Kubernetes sets itself. ``policies`` None: none observed, egress not narrowed."""

    policies: tuple[EgressPolicy, ...] | None = None
    namespace_labels: Mapping[str, str] | None = None

    def labels_of(self, namespace: str) -> dict[str, str]:
        return {**(self.namespace_labels or {}), NAMESPACE_NAME_LABEL: namespace}
