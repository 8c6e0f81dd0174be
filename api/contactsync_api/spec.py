"""The ContactSync spec as typed Python: the one model the operator and the worker read,
and the source of truth for the CRD schema.

``crds/contactsync.yaml`` is generated from these classes (``contactsync crd``);
a test fails when the committed file drifts from them. Descriptions here are
what ``kubectl explain`` prints.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from contactsync_api.consent import (
    ALWAYS_WITHDRAWN,
    DEFAULT_GRANTED,
    EXPIRY_KEY,
    PROPERTY_PATTERN,
    WORD_PATTERN,
    ascii_lower,
    cel_list,
)
from contactsync_api.contact_values import ValuesSpec
from contactsync_api.cron import CRON_HELP, cron_rule
from contactsync_api.durations import to_timedelta
from contactsync_api.egress import RegionEgress
from contactsync_api.endpoints.carddav import CardDavDestinationSpec, CardDavSpec
from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.endpoints.postgres import PostgresConnectionSpec, PostgresDestinationSpec
from contactsync_api.fields import ContactField, IdentityKey
from contactsync_api.kinds import Adapter, KindChoice, Role
from contactsync_api.locations import location_rules
from contactsync_api.rules import (
    Rule,
    RuledModel,
    RuleViolation,
    exactly_one,
    pattern_rule,
    rules_waived,
)
from contactsync_api.source_consent import SourceConsentSpec, source_consent_rules
from contactsync_api.time_zones import time_zone_problem
from contactsync_api.values import (
    TEMPORAL_NAMESPACE_PATTERN,
    TIME_ZONE_PATTERN,
    ClockDuration,
    Name,
    Period,
    Quantity,
    SecretKeyRef,
    SecretRef,
    SpecModel,
    quantities_rule,
)

GROUP = "contactsync.dev"
VERSION = "v1alpha1"
KIND = "ContactSync"
PLURAL = "contactsyncs"

MAX_REGIONS = 16
MAX_SOURCES = 32
MAX_DESTINATIONS = 16
MAX_RESOURCES = 16  # resource names per requests or limits
# Each run reads its sources and starts a workflow; runs closer together than this would
# spend more on starting than on syncing, and pile up behind a slow source.
MIN_INTERVAL = "1m"


class Overlap(StrEnum):
    SKIP = "Skip"
    BUFFER_ONE = "BufferOne"
    BUFFER_ALL = "BufferAll"
    CANCEL_OTHER = "CancelOther"
    TERMINATE_OTHER = "TerminateOther"
    ALLOW_ALL = "AllowAll"


class ScheduleSpec(RuledModel, SpecModel):
    """When each region's sync runs. Set exactly one of cron and interval."""

    rules = (
        Rule(
            cel="has(self.cron) != has(self.interval)",
            message=(
                "schedule: set exactly one of cron (e.g. '*/15 * * * *') and interval (e.g. 15m)"
            ),
            holds=lambda m: exactly_one(m.cron, m.interval),
        ),
        Rule(
            cel=f"!has(self.interval) || duration(self.interval) >= duration('{MIN_INTERVAL}')",
            message=f"schedule.interval must be at least {MIN_INTERVAL}",
            holds=lambda m: (
                m.interval is None or to_timedelta(m.interval) >= to_timedelta(MIN_INTERVAL)
            ),
            field_path=".interval",
        ),
        Rule(
            cel=(
                "!has(self.jitter) || !has(self.interval) "
                "|| duration(self.jitter) < duration(self.interval)"
            ),
            message="schedule.jitter must be shorter than schedule.interval",
            holds=lambda m: (
                m.jitter is None
                or m.interval is None
                or to_timedelta(m.jitter) < to_timedelta(m.interval)
            ),
            field_path=".jitter",
        ),
        cron_rule(),
    )

    cron: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None,
        description=f"Cron expression evaluated in timeZone: {CRON_HELP}.",
    )
    interval: ClockDuration | None = Field(
        default=None,
        description=(
            f"Run every interval, e.g. 15m or 1h30m (units h, m, s; at least {MIN_INTERVAL})."
        ),
    )
    jitter: ClockDuration | None = Field(
        default=None,
        description=(
            "Start each run up to this much later, at random, to spread load "
            "(units h, m, s; shorter than interval)."
        ),
    )
    time_zone: Annotated[str, StringConstraints(pattern=TIME_ZONE_PATTERN, max_length=64)] = Field(
        default="UTC",
        description=(
            "IANA time zone the cron expression is evaluated in, e.g. Europe/Berlin. The API "
            "server checks its shape; contactsync check and the operator, that it exists."
        ),
    )
    overlap: Overlap = Field(
        default=Overlap.SKIP,
        description=(
            "What to do when a run is due while the previous one still runs: Skip it, "
            "BufferOne or BufferAll to run afterwards, CancelOther or TerminateOther to stop "
            "the running one, or AllowAll to run both."
        ),
    )
    paused: bool = Field(
        default=False,
        description="Pause the schedules of every region. Runs already started finish.",
    )

    @field_validator("time_zone")
    @classmethod
    def _time_zone_exists(cls, value: str, info: ValidationInfo) -> str:
        # CEL has no time zone database; refused here, Temporal never sees the name.
        problem = None if rules_waived(info) else time_zone_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class ResourcesSpec(RuledModel, SpecModel):
    """Requests and limits of a container, e.g. {requests: {cpu: 100m, memory: 256Mi}}."""

    rules = (quantities_rule("requests", "requests"), quantities_rule("limits", "limits"))

    requests: Annotated[dict[str, Quantity], Field(max_length=MAX_RESOURCES)] | None = Field(
        default=None,
        description="Minimum compute resources, by resource name, as quantities (100m, 256Mi).",
    )
    limits: Annotated[dict[str, Quantity], Field(max_length=MAX_RESOURCES)] | None = Field(
        default=None,
        description="Maximum compute resources, by resource name, as quantities (500m, 1Gi).",
    )


class WorkersSpec(SpecModel):
    """The worker Deployment of a region."""

    replicas: Annotated[int, Field(ge=0, le=100)] = Field(
        default=1, description="Number of worker pods in the region."
    )
    resources: ResourcesSpec = Field(
        default=ResourcesSpec(),
        description="Compute resources of each worker container, as in a Pod spec.",
    )


class PostgresStoreSpec(PostgresConnectionSpec):
    """A PostgreSQL database in the region holding sync state and the audit chain."""


class StoreSpec(SpecModel):
    """Region-local state: sync tokens, content hashes and id mappings (never contact content)."""

    postgres: PostgresStoreSpec | None = Field(
        default=None,
        description=(
            "PostgreSQL state store. Without one, workers keep state in SQLite on a volume."
        ),
    )


class EncryptionSpec(SpecModel):
    """Keys of the region's payload codec."""

    keys_secret_ref: SecretRef = Field(
        description=(
            "Secret whose keys are key ids and whose values are 32-byte AES-256-GCM keys "
            "(base64). The newest key id in lexical order encrypts; all of them decrypt."
        )
    )


class RegionTemporalSpec(RuledModel, SpecModel):
    """Where the region's workflows run, when not the operator's default Temporal."""

    rules = (
        pattern_rule(
            "namespace",
            "namespace",
            TEMPORAL_NAMESPACE_PATTERN,
            "namespace must be a Temporal namespace name: letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit",
        ),
    )

    namespace: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None,
        description=(
            "Temporal namespace for this region's schedules and workflows (letters, digits, "
            "'.', '_' and '-')."
        ),
    )
    address: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None, description="host:port of the region's Temporal frontend."
    )
    tls_secret_ref: SecretRef | None = Field(
        default=None,
        description="Secret with tls.crt, tls.key and ca.crt for mTLS to the frontend.",
    )
    api_key_secret_ref: SecretKeyRef | None = Field(
        default=None, description="Secret key holding a Temporal API key."
    )


class RegionSpec(RuledModel, SpecModel):
    """A place where contacts may be processed and stored. Data never leaves its region."""

    rules = (
        Rule(
            cel="self.workers.replicas <= 1 || (has(self.store) && has(self.store.postgres))",
            message=(
                "workers.replicas above 1 needs store.postgres: without a shared store each "
                "replica would keep its own state and audit trail (one replica keeps its state "
                "on a volume the operator provisions)"
            ),
            holds=lambda m: m.workers.replicas <= 1 or bool(m.store and m.store.postgres),
            field_path=".workers.replicas",
        ),
    )

    name: Name = Field(description="Region name, e.g. eu-central-1. Matches the node label value.")
    workers: WorkersSpec = Field(
        default=WorkersSpec(), description="The region's worker Deployment."
    )
    store: StoreSpec | None = Field(default=None, description="The region's state store.")
    encryption: EncryptionSpec | None = Field(
        default=None,
        description="Payload encryption keys. Required to run outside local mode.",
    )
    temporal: RegionTemporalSpec | None = Field(
        default=None, description="Per-region Temporal namespace and connection."
    )


# Where the worker's adapter factories live; only the worker imports them.
_SOURCES = "contactsync_worker.sources"
_DESTINATIONS = "contactsync_worker.destinations"


class SourceSpec(KindChoice):
    """Where contacts come from."""

    role = Role.SOURCE
    rules = (
        Rule(
            cel="self.region == oldSelf.region",
            message=(
                "region of a source cannot change: contacts already synced stay where they are; "
                "add a new source under another name instead"
            ),
            holds=lambda m: True,
            field_path=".region",
            transition=True,
        ),
    )

    name: Name = Field(description="Source name, unique in this ContactSync.")
    region: Name = Field(description="The region that reads this source; one of spec.regions.")
    # The kinds of source, one field each (contactsync_api.kinds).
    carddav: Annotated[
        CardDavSpec | None,
        Adapter(f"{_SOURCES}.carddav:CardDavSource.from_spec"),
    ] = Field(default=None, description="A CardDAV address book, synced with sync-collection.")
    ldap: Annotated[
        LdapSourceSpec | None,
        Adapter(f"{_SOURCES}.ldap:LdapSource.from_spec"),
    ] = Field(default=None, description="An LDAP directory.")
    csv: Annotated[
        FileSourceSpec | None,
        Adapter(f"{_SOURCES}.files:CsvSource.from_spec"),
    ] = Field(default=None, description="A CSV file with a header row.")
    jsonl: Annotated[
        FileSourceSpec | None,
        Adapter(f"{_SOURCES}.files:JsonLinesSource.from_spec"),
    ] = Field(default=None, description="A JSON Lines file, one contact object per line.")
    vcf: Annotated[
        FileSourceSpec | None,
        Adapter(f"{_SOURCES}.files:VcfSource.from_spec"),
    ] = Field(
        default=None,
        description="A vCard file (.vcf) of many cards, vCard 2.1, 3.0 or 4.0, as address "
        "books export them.",
    )
    consent: SourceConsentSpec | None = Field(
        default=None,
        description=(
            "Where and in which words this source records consent, field by field in place "
            "of spec.consent; whether consent is required, and for which purposes, stays "
            "spec.consent's."
        ),
    )


class DestinationSpec(KindChoice):
    """Where contacts are written."""

    role = Role.DESTINATION
    rules = (
        Rule(
            cel="self.region == oldSelf.region",
            message=(
                "region of a destination cannot change: contacts already written stay where they "
                "are; add a new destination under another name instead"
            ),
            holds=lambda m: True,
            field_path=".region",
            transition=True,
        ),
    )

    name: Name = Field(description="Destination name, unique in this ContactSync.")
    region: Name = Field(
        description="The region that writes this destination; one of spec.regions."
    )
    sources: Annotated[list[Name], Field(max_length=MAX_SOURCES)] | None = Field(
        default=None,
        description="Names of the sources this destination receives, all of its own region. "
        "Default: every source of its region.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    # The kinds of destination, one field each (contactsync_api.kinds).
    carddav: Annotated[
        CardDavDestinationSpec | None,
        Adapter(f"{_DESTINATIONS}.carddav:CardDavDestination.from_spec"),
    ] = Field(default=None, description="A CardDAV address book.")
    postgres: Annotated[
        PostgresDestinationSpec | None,
        Adapter(f"{_DESTINATIONS}.postgres:PostgresDestination.from_spec"),
    ] = Field(default=None, description="A PostgreSQL table.")


class ConsentMode(StrEnum):
    REQUIRED = "Required"
    NOT_REQUIRED = "NotRequired"


ConsentWord = Annotated[str, StringConstraints(pattern=WORD_PATTERN, max_length=64)]
_ALWAYS_NO = cel_list(ALWAYS_WITHDRAWN)
# CEL: is {word} one of the withdrawnValues? (Absent only in the CRD's default, which the API
# server checks before it fills in the defaults inside it.)
_IN_WITHDRAWN = (
    "(has(self.withdrawnValues) && "
    "self.withdrawnValues.exists(w, w.lowerAscii() == {word}.lowerAscii()))"
)


def _words_for_no(spec: ConsentSpec) -> set[str]:
    return {ascii_lower(word) for word in (*ALWAYS_WITHDRAWN, *spec.withdrawn_values)}


def _yes_is_never_no(spec: ConsentSpec) -> bool:
    return not {ascii_lower(word) for word in spec.granted_values} & _words_for_no(spec)


def _purposes_are_not_words(spec: ConsentSpec) -> bool:
    words = _words_for_no(spec) | {ascii_lower(w) for w in spec.granted_values} | {EXPIRY_KEY}
    return not {ascii_lower(purpose) for purpose in spec.purposes} & words


class ConsentSpec(RuledModel, SpecModel):
    """Which contacts may be written: those who consented, unless another lawful basis applies.

    How consent values are read (words, purposes, ``purpose=granted;until=2027-01-01``) is
    in docs/worker.md; the words that always mean no are in ``contactsync_api.consent``."""

    rules = (
        Rule(
            cel=(
                "!has(self.grantedValues) || self.grantedValues.all(g, "
                f"!(g.lowerAscii() in {_ALWAYS_NO}) && !{_IN_WITHDRAWN.format(word='g')})"
            ),
            message=(
                "consent.grantedValues: a word cannot mean both yes and no; these always mean "
                f"no: {', '.join(ALWAYS_WITHDRAWN)}, and so do the withdrawnValues"
            ),
            holds=_yes_is_never_no,
            field_path=".grantedValues",
        ),
        Rule(
            cel=(
                f"!has(self.purposes) || self.purposes.all(p, p.lowerAscii() != '{EXPIRY_KEY}' "
                f"&& !(p.lowerAscii() in {_ALWAYS_NO}) && !{_IN_WITHDRAWN.format(word='p')} "
                "&& !(has(self.grantedValues) && "
                "self.grantedValues.exists(g, g.lowerAscii() == p.lowerAscii())))"
            ),
            message=(
                f"consent.purposes: a purpose cannot be '{EXPIRY_KEY}' or a word that means yes "
                "or no (grantedValues, withdrawnValues, or one that always means no): a "
                "recorded value naming it would be read as that word"
            ),
            holds=_purposes_are_not_words,
            field_path=".purposes",
        ),
    )

    mode: ConsentMode = Field(
        default=ConsentMode.REQUIRED,
        description=(
            "Required: a contact is written only while its consent property grants every "
            "purpose listed (or consent as a whole when none are), and one written before is "
            "removed downstream by the first run that reads it without consent (withdrawn, "
            "expired, missing), whatever retention.removedContacts says. NotRequired: another "
            "lawful basis covers the processing; record it in your records of processing."
        ),
    )
    property: Annotated[str, StringConstraints(pattern=PROPERTY_PATTERN, max_length=64)] = Field(
        default="X-CONSENT",
        description=(
            "vCard property, LDAP attribute, CSV column or JSON Lines key holding consent: "
            "words (granted, withdrawn), purposes, or purpose=granted;until=2027-01-01, "
            "separated by , or ;."
        ),
    )
    purposes: Annotated[list[ConsentWord], Field(max_length=16)] = Field(
        default=[],
        description=(
            "Purposes every written contact must have granted by name, e.g. [directory] "
            "(a purpose on its own, or purpose=granted). Empty: a word of grantedValues on "
            "its own is needed; a record that only names purposes does not consent as a whole."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    granted_values: Annotated[list[ConsentWord], Field(min_length=1, max_length=16)] = Field(
        default=list(DEFAULT_GRANTED),
        description=(
            "Words that grant consent: on their own for consent as a whole, or after "
            "purpose= for one purpose. Compared trimmed, ignoring case."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    withdrawn_values: Annotated[list[ConsentWord], Field(max_length=16)] = Field(
        default=[],
        description=(
            "Words that withdraw consent besides those that always do: "
            f"{', '.join(ALWAYS_WITHDRAWN)}. Compared trimmed, ignoring case."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )

    def check_invariants(self) -> None:
        """The API server refuses a word twice in a list (list type set)."""
        for path, words in (
            (".grantedValues", self.granted_values),
            (".withdrawnValues", self.withdrawn_values),
        ):
            for index, word in enumerate(words):
                if word in words[:index]:
                    raise RuleViolation(f"duplicate value {word!r}", f"{path}[{index}]")


class DeletesSpec(SpecModel):
    """How deletions at the sources reach the destinations."""

    propagate: bool = Field(
        default=True, description="Delete downstream what is gone from every source."
    )
    max_delete_percent: Annotated[int, Field(ge=0, le=100)] = Field(
        default=20,
        description=(
            "Mass-delete guard: a sync that would delete more than this share of a destination "
            "deletes nothing and fails with MassDeleteBlocked."
        ),
    )


class RetentionSpec(SpecModel):
    """How long anything is kept. Durations like 30d, 12h; never negative."""

    removed_contacts: Period = Field(
        default="0d",
        description=(
            "Grace period before a contact gone from every source, or without consent, is "
            "deleted downstream."
        ),
    )
    audit_log: Period = Field(
        default="400d", description="Age after which audit records are purged."
    )
    workflow_history: Period = Field(
        default="7d",
        description=(
            "Retention expected of the Temporal namespace; the operator reports a mismatch."
        ),
    )


class DeletionPolicy(StrEnum):
    RETAIN = "Retain"
    PURGE = "Purge"


class ContactSyncSpec(RuledModel, SpecModel):
    """What to sync, where it may be processed, and what may be kept for how long."""

    rules = (
        Rule(
            cel="self.sources.all(s, self.regions.exists(r, r.name == s.region))",
            message="spec.sources[].region must name one of spec.regions",
            holds=lambda m: all(s.region in m.region_names for s in m.sources),
            field_path=".sources",
        ),
        Rule(
            cel="self.destinations.all(d, self.regions.exists(r, r.name == d.region))",
            message="spec.destinations[].region must name one of spec.regions",
            holds=lambda m: all(d.region in m.region_names for d in m.destinations),
            field_path=".destinations",
        ),
        Rule(
            cel="self.destinations.all(d, self.sources.exists(s, s.region == d.region))",
            message=(
                "spec.destinations[].region: a region with destinations needs at least one "
                "source in the same region"
            ),
            holds=lambda m: all(
                any(s.region == d.region for s in m.sources) for d in m.destinations
            ),
            field_path=".destinations",
        ),
        Rule(
            cel=(
                "self.destinations.all(d, !has(d.sources) || d.sources.all(n, "
                "self.sources.exists(s, s.name == n && s.region == d.region)))"
            ),
            message=(
                "spec.destinations[].sources must name sources of the destination's own region: "
                "no flow may cross regions"
            ),
            holds=lambda m: all(
                (name, d.region) in m.source_regions
                for d in m.destinations
                for name in d.sources or ()
            ),
            field_path=".destinations",
        ),
        Rule(
            cel="self.identity == oldSelf.identity",
            message=(
                "spec.identity cannot change: synced records are keyed by it; "
                "create a new ContactSync instead"
            ),
            holds=lambda m: True,
            field_path=".identity",
            transition=True,
        ),
    )

    schedule: ScheduleSpec = Field(description="When the sync runs.")
    regions: Annotated[list[RegionSpec], Field(min_length=1, max_length=MAX_REGIONS)] = Field(
        description="Regions that may process and hold contacts, each with its own workers.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    sources: Annotated[list[SourceSpec], Field(min_length=1, max_length=MAX_SOURCES)] = Field(
        description="Where contacts come from, each read inside its region.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    destinations: Annotated[
        list[DestinationSpec], Field(min_length=1, max_length=MAX_DESTINATIONS)
    ] = Field(
        description="Where contacts are written, each inside its region.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
        },
    )
    fields: Annotated[list[ContactField], Field(min_length=1)] = Field(
        description=(
            "Data minimization: the only contact fields read from sources and written to "
            "destinations. Everything else is dropped inside the source adapter."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    identity: Annotated[list[IdentityKey], Field(min_length=1)] = Field(
        default=[IdentityKey.EMAIL, IdentityKey.UID],
        description=(
            "Keys by which records of several sources are merged into one contact, in order of "
            "preference. Cannot change after creation."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    consent: ConsentSpec = Field(
        default=ConsentSpec(),
        description="Consent required before a contact is written.",
    )
    values: ValuesSpec = Field(
        default=ValuesSpec(),
        description="Emails and phones that are not what their field says: dropped or set aside.",
    )
    deletes: DeletesSpec = Field(
        default=DeletesSpec(),
        description="Propagation of deletions and the mass-delete guard.",
    )
    retention: RetentionSpec = Field(default=RetentionSpec(), description="Retention periods.")
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.RETAIN,
        description="What deleting this ContactSync does to synced data: Retain it, or Purge it.",
    )

    @classmethod
    def validation_rules(cls) -> tuple[Rule, ...]:
        return (
            *cls.rules,
            *location_rules(SourceSpec.kinds(), DestinationSpec.kinds()),
            *source_consent_rules(),
        )

    def check_invariants(self) -> None:
        """What the API server enforces through list types: names and set members unique."""
        lists: dict[str, list[str]] = {
            ".regions": [r.name for r in self.regions],
            ".sources": [s.name for s in self.sources],
            ".destinations": [d.name for d in self.destinations],
            ".fields": list(self.fields),
            ".identity": list(self.identity),
            ".consent.purposes": list(self.consent.purposes),
        }
        for index, destination in enumerate(self.destinations):
            lists[f".destinations[{index}].sources"] = list(destination.sources or ())
        for path, values in lists.items():
            seen: set[str] = set()
            for index, value in enumerate(values):
                if value in seen:
                    raise RuleViolation(f"duplicate value {value!r}", f"{path}[{index}]")
                seen.add(value)

    @property
    def region_names(self) -> set[str]:
        return {r.name for r in self.regions}

    @property
    def source_regions(self) -> set[tuple[str, str]]:
        return {(s.name, s.region) for s in self.sources}


class RegionConfig(SpecModel):
    """The part of a ContactSync one region's workers run on, mounted into their pods.

    It holds only the region's own sources and destinations; Secrets by name only.
    The schedule is not in it: Temporal starts the runs, and a schedule edit must
    not restart workers.
    """

    contact_sync: str = Field(description="namespace/name of the ContactSync.")
    region: RegionSpec
    sources: list[SourceSpec]
    destinations: list[DestinationSpec]
    fields: list[ContactField]
    identity: list[IdentityKey]
    consent: ConsentSpec
    values: ValuesSpec = ValuesSpec()  # absent from configs an older operator wrote
    deletes: DeletesSpec
    retention: RetentionSpec
    deletion_policy: DeletionPolicy
    requests_public_key: str | None = Field(
        default=None,
        description=(
            "Base64 Ed25519 public key that verifies purge and erasure requests; the operator "
            "derives it from requests.key in the region's keys Secret."
        ),
    )
    egress: RegionEgress | None = Field(
        default=None,
        description=(
            "Where the workers may connect, from the platform's ContactSyncEgressPolicies. "
            "None: no policy applies (local mode); only link-local addresses are refused."
        ),
    )
