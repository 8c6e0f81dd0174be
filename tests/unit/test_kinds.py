"""The kinds of source and destination are declared once, on their fields, and the rule that
a source or destination sets exactly one of them, its CRD description and the adapter the
worker builds all follow from those declarations."""

from __future__ import annotations

import pkgutil
from pathlib import Path
from typing import Any

import pytest

from contactsync_api.crd import crd_manifest
from contactsync_api.endpoints.carddav import CardDavDestinationSpec, CardDavSpec
from contactsync_api.fields import ContactField
from contactsync_api.kinds import Kind, KindChoice, Role, exactly_one_kind_rule
from contactsync_api.manifest import ManifestError, parse_contact_sync
from contactsync_api.spec import DestinationSpec, SourceSpec
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.adapters import (
    AdapterNotFound,
    destination_adapter,
    factory,
    source_adapter,
)
from contactsync_worker.contacts.model import FieldPolicy
from tests.corpus.endpoints import SAMPLES, EndpointSample
from tests.corpus.manifests import example

MODELS: dict[Role, type[KindChoice]] = {Role.SOURCE: SourceSpec, Role.DESTINATION: DestinationSpec}
LISTS = {Role.SOURCE: "sources", Role.DESTINATION: "destinations"}
KINDS = [*SourceSpec.kinds(), *DestinationSpec.kinds()]
PEM = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def kind_id(kind: Kind) -> str:
    return f"{kind.role}-{kind.key}"


def crd_items(role: Role) -> dict[str, Any]:
    schema = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    items: dict[str, Any] = schema["properties"]["spec"]["properties"][LISTS[role]]["items"]
    return items


def test_the_kinds_are_the_fields_that_declare_an_adapter() -> None:
    assert [k.key for k in SourceSpec.kinds()] == ["carddav", "ldap", "csv", "jsonl", "vcf"]
    assert [k.key for k in DestinationSpec.kinds()] == ["carddav", "postgres"]
    assert {k.role for k in SourceSpec.kinds()} == {Role.SOURCE}
    assert SourceSpec.kinds()[0].spec is CardDavSpec
    assert DestinationSpec.kinds()[0].spec is CardDavDestinationSpec


def test_the_exactly_one_rule_is_written_from_the_kinds() -> None:
    rule = exactly_one_kind_rule(Role.SOURCE, SourceSpec.kinds())
    assert rule.cel == (
        "[has(self.carddav), has(self.ldap), has(self.csv), has(self.jsonl), has(self.vcf)]"
        ".filter(k, k).size() == 1"
    )
    assert rule.message == "each source sets exactly one of carddav, ldap, csv, jsonl, vcf"
    assert SourceSpec.validation_rules()[0].to_crd() == rule.to_crd()


@pytest.mark.parametrize("role", list(Role))
def test_the_crd_checks_and_describes_the_kinds_as_declared(role: Role) -> None:
    model = MODELS[role]
    items = crd_items(role)
    expected = exactly_one_kind_rule(role, model.kinds()).to_crd()
    assert items["x-kubernetes-validations"][0] == expected
    keys = [kind.key for kind in model.kinds()]
    assert items["description"].endswith(
        f" Set exactly one of {', '.join(keys[:-1])} and {keys[-1]}."
    )
    for kind in model.kinds():
        assert items["properties"][kind.key]["description"] == kind.description


def sample_of(role: Role, other_than: str) -> EndpointSample:
    return next(s for s in SAMPLES if s.role is role and s.key != other_than)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("count", [0, 2])
def test_a_manifest_with_no_kind_or_two_is_refused_naming_the_kinds(role: Role, count: int) -> None:
    document = example("quickstart")
    entry = document["spec"][LISTS[role]][0]
    if count == 0:
        del entry["carddav"]
    else:
        second = sample_of(role, other_than="carddav")
        entry[second.key] = second.endpoint
    with pytest.raises(ManifestError) as refused:
        parse_contact_sync(document)
    listed = ", ".join(kind.key for kind in MODELS[role].kinds())
    assert refused.value.problems == [
        f"spec.{LISTS[role]}[0]: each {role} sets exactly one of {listed}"
    ]


@pytest.mark.parametrize("kind", KINDS, ids=kind_id)
def test_every_registered_adapter_path_resolves_to_a_callable(kind: Kind) -> None:
    assert callable(factory(kind))


@pytest.mark.parametrize(
    ("adapter", "says"),
    [
        ("contactsync_worker.sources.nowhere:Source.from_spec", "cannot import"),
        ("contactsync_worker.sources.files:CsvSource.absent", "cannot import"),
        ("contactsync_worker.sources.files:PAGE_SIZE", "is not callable"),
    ],
)
def test_an_adapter_path_that_does_not_resolve_says_which_kind_and_path(
    adapter: str, says: str
) -> None:
    kind = Kind("carddav", "carddav", Role.SOURCE, CardDavSpec, "A CardDAV book.", adapter)
    with pytest.raises(AdapterNotFound, match=says) as refused:
        factory(kind)
    assert "source kind 'carddav'" in str(refused.value)
    assert adapter in str(refused.value)


def mounted(secrets_dir: Path, sample: EndpointSample) -> None:
    """Every Secret of the sample, with every key an adapter might read."""
    keys = {"username": b"u", "password": b"p", "bindDN": b"cn=u", "token": b"t"}
    for name in sample.secrets:
        directory = secrets_dir / name
        directory.mkdir()
        for key, value in {**keys, "dsn": b"host=db.example.com", "ca.crt": PEM}.items():
            (directory / key).write_bytes(value)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
async def test_each_kind_builds_the_adapter_its_path_names(
    sample: EndpointSample, tmp_path: Path
) -> None:
    mounted(tmp_path, sample)
    context = AdapterContext(FieldPolicy(frozenset(ContactField)), tmp_path, egress=None)
    entry = {"name": "book", "region": "local", sample.key: sample.endpoint}
    if sample.role is Role.SOURCE:
        source = SourceSpec.model_validate(entry)
        adapter: Any = source_adapter(source, context)
        kind = source.kind
    else:
        destination = DestinationSpec.model_validate(entry)
        adapter = destination_adapter(destination, context)
        kind = destination.kind
    # A "module:Class.from_spec" path: the class is what the classmethod is bound to.
    assert isinstance(adapter, pkgutil.resolve_name(kind.adapter).__self__)
    await adapter.aclose()
