"""The committed ContactSyncEgressPolicy CRD is generated from its model, structural and
described, and its chart copy is the same file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contactsync_api.egress_crd import egress_crd_manifest, egress_crd_yaml
from tests.unit.test_crd_generation import walk

ROOT = Path(__file__).parents[2]
CRD_FILE = ROOT / "crds" / "contactsyncegresspolicy.yaml"
CHART_COPY = ROOT / "helm" / "contactsync" / "files" / "contactsyncegresspolicy-crd.yaml"


def schema() -> dict[str, Any]:
    version = egress_crd_manifest()["spec"]["versions"][0]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


def test_committed_crd_matches_the_model() -> None:
    assert CRD_FILE.read_text() == egress_crd_yaml(), (
        "regenerate: contactsync crd egress > crds/contactsyncegresspolicy.yaml"
    )


def test_the_chart_ships_the_same_file() -> None:
    assert CHART_COPY.read_bytes() == CRD_FILE.read_bytes(), (
        f"cp {CRD_FILE.relative_to(ROOT)} {CHART_COPY.relative_to(ROOT)}"
    )


def test_it_is_cluster_scoped_so_namespace_users_cannot_write_it() -> None:
    assert egress_crd_manifest()["spec"]["scope"] == "Cluster"


def test_schema_is_structural_and_every_field_is_described() -> None:
    for path, node in walk(schema(), ""):
        for forbidden in ("$ref", "anyOf", "oneOf", "allOf", "title", "$defs"):
            assert forbidden not in node, f"{path} has {forbidden}"
        assert "type" in node, f"{path} has no type"
    spec = schema()["properties"]["spec"]
    missing = [p for p, n in walk(spec, "spec") if not n.get("description")]
    assert [p for p in missing if not p.endswith(("[]", "{}"))] == []


def test_lists_cel_iterates_are_bounded_and_every_rule_has_a_message() -> None:
    for path, node in walk(schema(), ""):
        if node.get("type") == "array":
            assert "maxItems" in node, f"{path}: CEL cost estimates need bounded lists"
        for rule in node.get("x-kubernetes-validations", []):
            assert rule["message"], rule
