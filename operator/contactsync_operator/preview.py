"""The operator's first reconcile of a ContactSync, planned without a cluster (pure).

``contactsync render`` shows what the operator would create; to never disagree with it, it runs
the operator's own planner. Only the observation is different: where a reconcile reads the
cluster and Temporal, a preview assumes a cluster in which nothing exists yet and everything the
manifest refers to is in order. What the spec alone decides (a region without encryption keys
gets nothing) is decided by the same functions the reconciler calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from contactsync_api.egress_policy import EgressPolicy
from contactsync_api.manifest import ContactSync
from contactsync_operator.observed import Observed, RegionAccess
from contactsync_operator.planner import Plan, plan
from contactsync_operator.region_keys import keys_secret_of
from contactsync_operator.settings import OperatorSettings

# What a preview takes for granted, in the words ``contactsync render`` prints.
ASSUMPTIONS = (
    "nothing exists yet: no worker objects, no schedules (so all of them are created)",
    "every Secret the manifest names exists and is labelled for this ContactSync "
    "(contactsync.dev/use); the keys Secret holds valid payload keys",
    "the keys Secret is not read: the operator mounts its entries by name, all but "
    "requests.key, and writes that key's public half into the worker config; here the keys "
    "volume names the whole Secret and the config has no requestsPublicKey",
    "PostgreSQL ports are the default 5432: the operator reads them from the DSN Secrets",
)


def assumed_observation(
    resource: ContactSync,
    settings: OperatorSettings,
    egress_policies: Sequence[EgressPolicy] | None = None,
    namespace_labels: Mapping[str, str] | None = None,
) -> Observed:
    """What the operator would observe for ``resource`` in a fresh cluster whose Secrets are in
    order. ``egress_policies`` None: none observed, so egress is not narrowed by policies."""
    observed = Observed(
        egress_policies=None if egress_policies is None else tuple(egress_policies),
        namespace_labels=dict(namespace_labels or {}),
    )
    for region in resource.spec.regions:
        if not settings.serves(region.name):
            continue
        secret = keys_secret_of(region)
        if isinstance(secret, RegionAccess):
            observed.access[region.name] = secret
    return observed


def first_plan(
    resource: ContactSync,
    settings: OperatorSettings,
    egress_policies: Sequence[EgressPolicy] | None = None,
    namespace_labels: Mapping[str, str] | None = None,
) -> Plan:
    """The operator's plan for ``resource`` on :func:`assumed_observation`."""
    observed = assumed_observation(resource, settings, egress_policies, namespace_labels)
    return plan(resource, observed, settings)
