"""The default ContactSyncEgressPolicy the chart asks for, made by the operator at start.

The chart cannot create it itself in every install path: its kind arrives with the same
release (a hook, with its ordering limits), and `helm template | kubectl apply` or
`kubectl apply -f deploy/install.yaml` would send it before its CRD exists. So the chart hands
the policy to the operator (CONTACTSYNC_DEFAULT_EGRESS_POLICY), which creates it
(kube.ensure_default_policy) only while no policy of that name exists. Once made it is the
platform admins': later values never change it, an upgrade never re-creates it (for that
moment no policy would select the namespaces), and uninstalling leaves it.
"""

from __future__ import annotations

import json
from typing import Any

from contactsync_api.egress_policy import KIND, parse_egress_policy
from contactsync_api.manifest import ManifestError
from contactsync_api.spec import GROUP, VERSION

ENV = "CONTACTSYNC_DEFAULT_EGRESS_POLICY"


class DefaultPolicyError(ValueError):
    """The policy handed to the operator is unusable; the message says why."""


def parse_default_policy(raw: str | None) -> dict[str, Any] | None:
    """The policy document from the variable's {"name", "spec"}, checked as the CRD would."""
    if not raw:
        return None
    try:
        given = json.loads(raw)
    except ValueError as exc:
        raise DefaultPolicyError(f"{ENV} is not JSON: {exc}") from exc
    if not isinstance(given, dict) or not given.get("name") or "spec" not in given:
        raise DefaultPolicyError(f'{ENV} must be {{"name": ..., "spec": {{...}}}}')
    document = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {"name": str(given["name"])},
        "spec": given["spec"],
    }
    try:
        parse_egress_policy(document)
    except ManifestError as exc:
        raise DefaultPolicyError(f"{ENV}: {exc}") from exc
    return document
