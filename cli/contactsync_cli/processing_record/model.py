"""The record of processing activities as data: what ``contactsync report --format json``
prints, and what the Markdown is rendered from.

The JSON keys are camelCase and stable: a key is never renamed or removed without raising
``SCHEMA_VERSION``; a new key may appear in the same version. docs/cli.md documents them.
Every statement carries ``source``: the manifest paths it was read from (``spec.consent.mode``,
``metadata.annotations["contactsync.dev/controller"]``), so a reader can check it.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SCHEMA_VERSION = 1


class RecordModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Statement(RecordModel):
    """One sentence of the record and where in the manifest it comes from."""

    text: str
    source: list[str] = Field(description="Manifest paths the statement is read from.")


class Stated(RecordModel):
    """A value the manifest's author gives in an annotation, or null: not stated."""

    value: str | None
    source: str


class Identification(RecordModel):
    namespace: str
    name: str
    controller: Stated
    representative: Stated
    dpo_contact: Stated
    source: list[str]


class Purposes(RecordModel):
    description: Stated
    consent_mode: str
    consent_property: str
    purposes: list[str]
    statements: list[Statement]
    questions_for_dpo: list[str]


class PersonalField(RecordModel):
    field: str = Field(description="The name in spec.fields or spec.identity.")
    name: str = Field(description="What it is, in words.")


class PersonalData(RecordModel):
    data_subjects: Stated
    data_subjects_inferred: Statement
    kept: list[PersonalField]
    identity_keys: list[PersonalField]
    also_read: list[Statement]
    dropped: list[PersonalField]
    source: list[str]


class Role(StrEnum):
    SOURCE = "source"
    DESTINATION = "destination"


class Endpoint(RecordModel):
    """A source or destination: where it is, how it is reached, and which Secrets (by name)."""

    name: str
    role: Role
    kind: str
    region: str
    host: str | None = Field(description="host[:port]; null where only a Secret holds it.")
    location: str = Field(description="URL without query, path, base DN or schema.table.")
    transport: str
    encrypted_in_transit: bool | None = Field(
        description="null: no network (a file on a volume of the worker pod)."
    )
    allow_insecure: bool
    secrets: list[str] = Field(description="Names of the Secrets it uses; never their contents.")
    receives_from: list[str] = Field(description="Destinations: the sources they are sent.")
    source: str


class TemporalPlacement(RecordModel):
    namespace: str | None = Field(description="null: the operator's default namespace.")
    address: str | None = Field(description="null: the operator's default frontend.")
    own_credentials: bool


class Region(RecordModel):
    name: str
    workers: Statement
    store: Statement
    encryption_keys_secret: str | None
    temporal: TemporalPlacement
    secrets: list[str]
    egress_ports: list[int]
    source: list[str]


class Flow(RecordModel):
    source: str
    source_region: str
    destination: str
    destination_region: str

    @property
    def crosses_regions(self) -> bool:
        return self.source_region != self.destination_region


class Transfers(RecordModel):
    regions: list[Region]
    flows: list[Flow]
    crosses_regions: bool = Field(
        description="Whether any personal data leaves the region it was read in."
    )
    statements: list[Statement]


class Retention(RecordModel):
    removed_contacts: str
    audit_log: str
    workflow_history: str
    propagate_deletes: bool
    max_delete_percent: int
    deletion_policy: str
    statements: list[Statement]


class Measure(RecordModel):
    id: str
    title: str
    applies: bool = Field(description="false: this spec does not get the measure (see text).")
    statements: list[Statement]


class Severity(StrEnum):
    WARNING = "warning"  # weaker protection than ContactSync's defaults
    QUESTION = "question"  # the spec cannot answer it; the controller or DPO must


class Finding(RecordModel):
    code: str
    severity: Severity
    message: str
    source: list[str]


class ProcessingRecord(RecordModel):
    """The record of one ContactSync (GDPR Art. 30(1))."""

    contact_sync: Identification
    purposes: Purposes
    personal_data: PersonalData
    sources: list[Endpoint]
    destinations: list[Endpoint]
    transfers: Transfers
    retention: Retention
    security_measures: list[Measure]
    findings: list[Finding]


class Report(RecordModel):
    """What one manifest file yields: one record per ContactSync in it."""

    schema_version: int = SCHEMA_VERSION
    manifest: str
    records: list[ProcessingRecord]

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, indent=2) + "\n"
