"""Generate the ContactSyncEgressPolicy CustomResourceDefinition from its typed model, as
api.crd does for ContactSync (the same structural-schema translation)."""

from __future__ import annotations

from contactsync_api.crd import (
    JsonObject,
    crd_text,
    custom_resource_definition,
    openapi_schema,
    resource_schema,
)
from contactsync_api.egress_policy import KIND, PLURAL, ContactSyncEgressPolicySpec

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
    return custom_resource_definition(
        kind=KIND,
        plural=PLURAL,
        # Platform admins own it; the namespace users it constrains cannot write it.
        scope="Cluster",
        short_names=SHORT_NAMES,
        printer_columns=PRINTER_COLUMNS,
        schema=resource_schema(
            KIND,
            "ContactSyncEgressPolicy says which addresses the ContactSync workers of the "
            "namespaces it selects may connect to. Platform admins own it; a namespace that no "
            "policy selects gets no workers.",
            openapi_schema(ContactSyncEgressPolicySpec),
        ),
    )


def egress_crd_yaml() -> str:
    return crd_text(egress_crd_manifest(), "contactsync crd egress")
