"""The committed CRD is generated from the typed model and is a valid structural schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync_api.crd import crd_manifest, crd_yaml

CRD_FILE = Path(__file__).parents[2] / "crds" / "contactsync.yaml"


def spec_schema() -> dict[str, Any]:
    version = crd_manifest()["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def walk(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def test_committed_crd_matches_the_model() -> None:
    assert CRD_FILE.read_text() == crd_yaml(), "regenerate: contactsync crd > crds/contactsync.yaml"


def test_schema_is_structural() -> None:
    for path, node in walk(spec_schema(), ""):
        for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "title", "$defs"):
            assert forbidden not in node, f"{path} has {forbidden}"
        has_type = "type" in node or node.get("x-kubernetes-int-or-string")
        assert has_type, f"{path} has no type"


@pytest.mark.parametrize("part", ["spec", "status"])
def test_every_field_is_described(part: str) -> None:
    root = spec_schema()["properties"][part]
    missing = [path for path, node in walk(root, part) if not node.get("description")]
    missing = [p for p in missing if not p.endswith(("[]", "{}"))]
    assert missing == []


def test_lists_of_named_objects_are_maps_keyed_by_name() -> None:
    properties = spec_schema()["properties"]["spec"]["properties"]
    for name in ("regions", "sources", "destinations"):
        assert properties[name]["x-kubernetes-list-type"] == "map"
        assert properties[name]["x-kubernetes-list-map-keys"] == ["name"]
        assert "maxItems" in properties[name], "CEL cost estimates need bounded lists"
    for name in ("fields", "identity"):
        assert properties[name]["x-kubernetes-list-type"] == "set"


def test_every_cel_rule_has_a_message() -> None:
    rules = [
        rule
        for _, node in walk(spec_schema(), "")
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert len(rules) >= 15
    for rule in rules:
        assert rule["message"], rule
