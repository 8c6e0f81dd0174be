"""The operator asks each endpoint what it dials and which Secrets it reads: every kind's
ports reach the NetworkPolicy and its Secrets the pod, and a kind declared by its field
alone is checked, dialled, mounted and built without an edit anywhere else."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import pytest
from pydantic import Field, ValidationError

from contactsync_api.endpoints import EndpointSpec, url_port
from contactsync_api.fields import ContactField
from contactsync_api.kinds import Adapter, Role
from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.spec import DestinationSpec, SourceSpec
from contactsync_api.values import SecretRef
from contactsync_operator.children import worker_objects
from contactsync_operator.settings import OperatorSettings
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.adapters import source_adapter
from contactsync_worker.contacts.model import FieldPolicy
from tests.corpus.endpoints import SAMPLES, EndpointSample
from tests.corpus.manifests import example

SETTINGS = OperatorSettings()
LISTS = {Role.SOURCE: "sources", Role.DESTINATION: "destinations"}


def quickstart() -> ContactSync:
    document = example("quickstart")
    document["metadata"] = {"name": "book", "namespace": "ns", "uid": "uid-1"}
    return parse_contact_sync(document)


def wiring(
    resource: ContactSync, database_ports: tuple[int, ...] = ()
) -> tuple[set[int], set[str]]:
    """The TCP ports the region's NetworkPolicy lets workers dial, the Secrets its pods mount."""
    region = resource.spec.regions[0]
    made = {m["kind"]: m for m in worker_objects(resource, region, SETTINGS, database_ports)}
    rules = made["NetworkPolicy"]["spec"]["egress"]
    ports = {p["port"] for rule in rules for p in rule.get("ports", []) if p["protocol"] == "TCP"}
    volumes = made["Deployment"]["spec"]["template"]["spec"]["volumes"]
    return ports, {v["secret"]["secretName"] for v in volumes if "secret" in v}


def with_sample(sample: EndpointSample) -> ContactSync:
    document = example("quickstart")
    document["metadata"] = {"name": "book", "namespace": "ns", "uid": "uid-1"}
    [entry] = document["spec"][LISTS[sample.role]]
    del entry["carddav"]
    entry[sample.key] = sample.endpoint
    return parse_contact_sync(document)


def test_the_samples_cover_every_registered_kind() -> None:
    registered = {(k.role, k.key) for k in (*SourceSpec.kinds(), *DestinationSpec.kinds())}
    assert {(s.role, s.key) for s in SAMPLES} == registered


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_each_kinds_ports_reach_the_network_policy_and_its_secrets_the_pod(
    sample: EndpointSample,
) -> None:
    resource = with_sample(sample)
    entry = getattr(resource.spec, LISTS[sample.role])[0]
    assert entry.endpoint.ports() == sample.ports
    assert {ref.name for ref in entry.endpoint.secret_refs()} == sample.secrets
    ports, secrets = wiring(resource)
    assert sample.ports <= ports
    assert sample.secrets <= secrets


def test_a_port_read_from_a_connection_string_replaces_the_default() -> None:
    postgres = next(s for s in SAMPLES if s.key == "postgres")
    ports, _ = wiring(with_sample(postgres), database_ports=(6432,))
    assert 6432 in ports
    assert 5432 not in ports


class DirectorySpec(EndpointSpec):
    """A directory server of a kind this project does not ship."""

    url: str = Field(description="directory://host:port of the server.")
    token_secret_ref: SecretRef = Field(description="Secret with a token key.")

    def secret_refs(self) -> tuple[SecretRef, ...]:
        return (self.token_secret_ref,)

    def ports(self) -> frozenset[int]:
        return frozenset({url_port(self.url)})


class DirectorySource:
    """The adapter of the kind: only built here, never read."""

    def __init__(self, name: str, spec: DirectorySpec) -> None:
        self.name = name
        self.spec = spec

    @classmethod
    def from_spec(cls, name: str, spec: DirectorySpec, context: AdapterContext) -> DirectorySource:
        return cls(name, spec)


class SourceSpecWithDirectory(SourceSpec):
    """Where contacts come from."""

    # The one line a new kind adds to the API, besides its own module.
    directory: Annotated[
        DirectorySpec | None,
        Adapter(f"{__name__}:DirectorySource.from_spec"),
    ] = Field(default=None, description="A directory server.")


DIRECTORY = {"url": "directory://people.example.com:7389", "tokenSecretRef": {"name": "dir-token"}}


def test_a_kind_declared_by_its_field_alone_is_checked() -> None:
    [rule, *_] = SourceSpecWithDirectory.validation_rules()
    assert "has(self.directory)].filter(k, k).size() == 1" in rule.cel
    assert rule.message.endswith("carddav, ldap, csv, jsonl, vcf, directory")
    both = {"name": "staff", "region": "local", "directory": DIRECTORY, "csv": {"path": "/a"}}
    with pytest.raises(ValidationError, match="exactly one of"):
        SourceSpecWithDirectory.model_validate(both)


def test_a_kind_declared_by_its_field_alone_is_dialled_mounted_and_built(tmp_path: Path) -> None:
    source = SourceSpecWithDirectory.model_validate(
        {"name": "staff", "region": "local", "directory": DIRECTORY}
    )
    resource = quickstart()
    resource = replace(resource, spec=resource.spec.model_copy(update={"sources": [source]}))

    ports, secrets = wiring(resource)
    assert 7389 in ports
    assert "dir-token" in secrets

    context = AdapterContext(FieldPolicy(frozenset(ContactField)), tmp_path, egress=None)
    adapter: Any = source_adapter(source, context)
    assert isinstance(adapter, DirectorySource)
    assert adapter.spec.url == DIRECTORY["url"]


def test_a_kind_field_that_is_no_endpoint_spec_fails_where_it_is_declared() -> None:
    with pytest.raises(TypeError, match="optional EndpointSpec"):

        class Misdeclared(SourceSpec):
            directory: Annotated[str | None, Adapter("somewhere:factory")] = Field(
                default=None, description="Not an endpoint."
            )
