"""Generate the ContactSyncEgressPolicy CustomResourceDefinition from its typed model, as
api.crd does for ContactSync (the same structural-schema translation)."""

from __future__ import annotations

import yaml

from contactsync_operator.api.crd import NEVER_PRUNED, JsonObject, openapi_schema
from contactsync_operator.api.egress_policy import KIND, PLURAL, ContactSyncEgressPolicySpec
from contactsync_worker.contracts.spec import GROUP, VERSION

SHORT_NAMES = ["csegress"]
PRINTER_COLUMNS: list[JsonObject] = [
    {
        "name": "Namespaces",
        "type": "string",
        "jsonPath": ".spec.namespaceSelector",
        "description": "The label selector of the namespaces it applies to ({}: all)",
    },
    {
        "name": "First block",
        "type": "string",
        "jsonPath": ".spec.allow[0].cidr",
        "description": "The first of the blocks workers may connect to",
    },
    {"name": "Link-local", "type": "boolean", "jsonPath": ".spec.allowLinkLocal"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def egress_crd_manifest() -> JsonObject:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {
                "app.kubernetes.io/name": "contactsync",
                "app.kubernetes.io/part-of": "contactsync",
            },
            "annotations": NEVER_PRUNED,
        },
        "spec": {
            "group": GROUP,
            # Platform admins own it; the namespace users it constrains cannot write it.
            "scope": "Cluster",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": SHORT_NAMES,
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "additionalPrinterColumns": PRINTER_COLUMNS,
                    "schema": {"openAPIV3Schema": _resource_schema()},
                }
            ],
        },
    }


def _resource_schema() -> JsonObject:
    return {
        "type": "object",
        "description": (
            "ContactSyncEgressPolicy says which addresses the ContactSync workers of the "
            "namespaces it selects may connect to. Platform admins own it; a namespace that no "
            "policy selects gets no workers."
        ),
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "contactsync.dev/v1alpha1"},
            "kind": {"type": "string", "description": KIND},
            "metadata": {"type": "object"},
            "spec": openapi_schema(ContactSyncEgressPolicySpec),
        },
    }


def egress_crd_yaml() -> str:
    header = "# Generated from contactsync_operator.api by `contactsync crd egress`; do not edit.\n"
    return header + yaml.safe_dump(
        egress_crd_manifest(), sort_keys=False, width=100, allow_unicode=True
    )
