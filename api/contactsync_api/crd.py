"""Generate the ContactSync CustomResourceDefinition from the typed model.

Pydantic's JSON Schema is close to a Kubernetes structural schema; this module
closes the gap: references are inlined, optional values lose their null
branch, titles go, object defaults become ``{}`` (their fields carry their own
defaults), and int-or-string unions become ``x-kubernetes-int-or-string``.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel

from contactsync_api.spec import GROUP, KIND, PLURAL, VERSION, ContactSyncSpec
from contactsync_api.status import ContactSyncStatus

JsonObject = dict[str, Any]

SHORT_NAMES = ["csync"]
CATEGORIES = ["contactsync"]
PRINTER_COLUMNS: list[JsonObject] = [
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {
        "name": "Regions",
        "type": "string",
        "jsonPath": ".status.regionsReady",
        "description": "Regions ready / regions declared",
    },
    {"name": "Schedule", "type": "string", "jsonPath": ".status.schedule"},
    {"name": "Last sync", "type": "date", "jsonPath": ".status.lastSyncTime"},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
_DROPPED_KEYS = {"title", "additionalProperties"}


def openapi_schema(model: type[BaseModel]) -> JsonObject:
    """The structural OpenAPI v3 schema of ``model``, as the API server wants it."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    definitions = schema.pop("$defs", {})
    return _structural(schema, definitions)


def _structural(node: JsonObject, definitions: JsonObject) -> JsonObject:
    node = dict(node)
    if "$ref" in node:
        target = definitions[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**_structural(target, definitions), **node}
    if "anyOf" in node:
        branches = [b for b in node.pop("anyOf") if b.get("type") != "null"]
        if node.get("default", "") is None:
            del node["default"]
        if {b.get("type") for b in branches} == {"integer", "string"}:
            node.pop("x-kubernetes-int-or-string", None)
            # The string branch's bound still holds, and CEL's cost estimates need it.
            bound = {k: v for b in branches for k, v in b.items() if k == "maxLength"}
            return {**node, **bound, "x-kubernetes-int-or-string": True}
        if len(branches) != 1:
            raise ValueError(f"cannot express a union in a structural schema: {branches}")
        node = {**_structural(branches[0], definitions), **node}
    result: JsonObject = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS and not (key == "additionalProperties" and isinstance(value, dict)):
            continue
        if key == "properties":
            result[key] = {name: _structural(sub, definitions) for name, sub in value.items()}
        elif key in ("items", "additionalProperties"):
            result[key] = _structural(value, definitions)
        else:
            result[key] = value
    if result.get("type") == "object" and isinstance(result.get("default"), dict):
        result["default"] = {}
    return _reader_first(result)


def _reader_first(node: JsonObject) -> JsonObject:
    """Description and type first: the generated file is read in reviews."""
    leading = [key for key in ("description", "type") if key in node]
    return {key: node[key] for key in [*leading, *(k for k in node if k not in leading)]}


# GitOps tools delete what leaves the desired state; a CRD deleted takes every ContactSync
# with it. Argo CD and Flux leave an object with these alone, like Helm's resource-policy keep.
NEVER_PRUNED = {
    "argocd.argoproj.io/sync-options": "Prune=false",
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
}


def custom_resource_definition(
    *,
    kind: str,
    plural: str,
    scope: str,
    short_names: list[str],
    printer_columns: list[JsonObject],
    schema: JsonObject,
    categories: list[str] | None = None,
    status_subresource: bool = False,
) -> JsonObject:
    """A CRD of this project's group and version, as every kind of it is shaped."""
    names: JsonObject = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
        "shortNames": short_names,
    }
    if categories:
        names["categories"] = categories
    version: JsonObject = {"name": VERSION, "served": True, "storage": True}
    if status_subresource:
        version["subresources"] = {"status": {}}
    version["additionalPrinterColumns"] = printer_columns
    version["schema"] = {"openAPIV3Schema": schema}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {
                "app.kubernetes.io/name": "contactsync",
                "app.kubernetes.io/part-of": "contactsync",
            },
            "annotations": NEVER_PRUNED,
        },
        "spec": {"group": GROUP, "scope": scope, "names": names, "versions": [version]},
    }


def resource_schema(
    kind: str, description: str, spec: JsonObject, status: JsonObject | None = None
) -> JsonObject:
    """The top of a resource's schema: apiVersion, kind, metadata, spec (and status)."""
    properties: JsonObject = {
        "apiVersion": {"type": "string", "description": f"{GROUP}/{VERSION}"},
        "kind": {"type": "string", "description": kind},
        "metadata": {"type": "object"},
        "spec": spec,
    }
    if status is not None:
        properties["status"] = status
    return {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": properties,
    }


def crd_text(manifest: JsonObject, command: str) -> str:
    header = f"# Generated from contactsync_api by `{command}`; do not edit.\n"
    return header + yaml.safe_dump(manifest, sort_keys=False, width=100, allow_unicode=True)


def crd_manifest() -> JsonObject:
    return custom_resource_definition(
        kind=KIND,
        plural=PLURAL,
        scope="Namespaced",
        short_names=SHORT_NAMES,
        categories=CATEGORIES,
        printer_columns=PRINTER_COLUMNS,
        status_subresource=True,
        schema=resource_schema(
            KIND,
            "ContactSync syncs contacts from sources to destinations inside declared regions, "
            "keeping only allowed fields of consenting contacts for a limited time.",
            openapi_schema(ContactSyncSpec),
            # Defaulted, so a resource the operator has not reconciled yet reads as such.
            {**openapi_schema(ContactSyncStatus), "default": {}},
        ),
    )


def crd_yaml() -> str:
    return crd_text(crd_manifest(), "contactsync crd")
