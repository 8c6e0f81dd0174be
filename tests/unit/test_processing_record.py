"""The record of processing activities, built from specs that differ in one thing each: what it
flags, what it states, and what it never prints."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pytest

from contactsync_api.manifest import parse_contact_sync
from contactsync_cli.processing_record import build_report
from contactsync_cli.processing_record.build import build_record
from contactsync_cli.processing_record.markdown import SECTIONS, render
from contactsync_cli.processing_record.model import ProcessingRecord, Report, Severity
from tests.corpus.manifests import DELETE, apply_change, example


@dataclass(frozen=True)
class Variation:
    """An example with ``changes`` (manifest path → value), and what the record must say."""

    id: str
    base: str
    changes: dict[str, object] = field(default_factory=dict)
    rules: bool = True  # False: as the operator reads a resource stored before a rule existed

    def record(self) -> ProcessingRecord:
        document = copy.deepcopy(example(self.base))
        for path, value in self.changes.items():
            apply_change(document, path, value if value is DELETE else copy.deepcopy(value))
        return build_record(parse_contact_sync(document, rules=self.rules))


def codes(record: ProcessingRecord) -> list[str]:
    return [finding.code for finding in record.findings]


def sources_of(record: ProcessingRecord, code: str) -> list[str]:
    return [path for f in record.findings if f.code == code for path in f.source]


def measure(record: ProcessingRecord, measure_id: str) -> bool:
    [found] = [m for m in record.security_measures if m.id == measure_id]
    return found.applies


SECURE_BOOK = {"url": "https://dav.example.com/book/", "credentialsSecretRef": {"name": "dav"}}

INSECURE = [
    Variation("carddav-http-source", "quickstart"),  # both of its books are http://
    Variation(
        "carddav-https-with-allow-insecure",
        "quickstart",
        {
            "spec.sources[0].carddav": {**SECURE_BOOK, "allowInsecure": True},
            "spec.destinations[0].carddav": {
                "url": "https://dav.example.com/phones/",
                "allowInsecure": True,
            },
        },
    ),
    Variation(
        "ldap-without-tls",
        "multi-region",
        {"spec.sources[2].ldap.startTLS": False, "spec.sources[2].ldap.allowInsecure": True},
    ),
    Variation(
        "csv-over-http",
        "consent-retention",
        {"spec.sources[0].csv": {"url": "http://exports.example.fr/s.csv", "allowInsecure": True}},
    ),
    Variation(
        "postgres-destination",
        "multi-region",
        {"spec.destinations[1].postgres.allowInsecure": True},
    ),
    Variation(
        "postgres-store",
        "multi-region",
        {"spec.regions[0].store.postgres.allowInsecure": True},
    ),
]


@pytest.mark.parametrize("case", INSECURE, ids=[c.id for c in INSECURE])
def test_every_allow_insecure_is_a_warning_naming_its_field(case: Variation) -> None:
    record = case.record()
    flagged = sources_of(record, "AllowInsecure")
    document = copy.deepcopy(example(case.base))
    for path, value in case.changes.items():
        apply_change(document, path, value)
    expected = _allow_insecure_paths(document)
    assert expected, "the variation sets allowInsecure somewhere"
    assert sorted(flagged) == sorted(expected)
    assert all(f.severity is Severity.WARNING for f in record.findings if f.code == "AllowInsecure")


def _allow_insecure_paths(document: dict[str, object]) -> list[str]:
    """Every manifest path where allowInsecure is true, found by walking the document."""
    found: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "allowInsecure" and value is True:
                    found.append(f"{path}.{key}")
                walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(document, "")
    return found


@pytest.mark.parametrize(
    ("case", "encrypted"),
    [
        (INSECURE[0], False),  # http://
        (INSECURE[1], True),  # https://: the flag is set but TLS still holds
        (INSECURE[2], False),
        (INSECURE[4], False),
        (Variation("all-tls", "multi-region"), True),
    ],
    ids=["http", "https-flag-only", "ldap-clear", "postgres-as-given", "all-tls"],
)
def test_encryption_in_transit_is_claimed_only_when_every_connection_is_encrypted(
    case: Variation, encrypted: bool
) -> None:
    assert measure(case.record(), "EncryptionInTransit") is encrypted


def test_a_spec_without_allow_insecure_has_no_such_finding() -> None:
    record = Variation("tls", "multi-region").record()
    assert "AllowInsecure" not in codes(record)
    assert all(e.encrypted_in_transit for e in [*record.sources, *record.destinations])


TRANSFERS = [
    ("one-region", Variation("one", "consent-retention"), False, set()),
    (
        # Separate namespaces of one Temporal cluster still share its database.
        "two-regions-one-temporal",
        Variation("two", "multi-region"),
        False,
        {"TemporalSharedAcrossRegions"},
    ),
    (
        "two-regions-own-temporal",
        Variation(
            "own",
            "multi-region",
            {
                "spec.regions[0].temporal.address": "temporal.eu.example.com:7233",
                "spec.regions[1].temporal.address": "temporal.us.example.com:7233",
            },
        ),
        False,
        set(),
    ),
    (
        # Stored before the rule that keeps flows in their region, as the operator may read it.
        "flow-across-regions",
        Variation(
            "cross",
            "multi-region",
            {"spec.destinations[0].sources": ["hr-eu", "hr-us"]},
            rules=False,
        ),
        True,
        {"CrossRegionFlow", "TemporalSharedAcrossRegions"},
    ),
    (
        "one-server-two-regions",
        Variation(
            "server",
            "multi-region",
            {"spec.sources[3].carddav.url": "https://dav.eu.example.com/sales-us/"},
        ),
        False,
        {"ServerSharedAcrossRegions", "TemporalSharedAcrossRegions"},
    ),
    (
        "one-keys-secret-two-regions",
        Variation(
            "keys",
            "multi-region",
            {"spec.regions[1].encryption.keysSecretRef.name": "eu-contact-keys"},
        ),
        False,
        {"SecretSharedAcrossRegions", "TemporalSharedAcrossRegions"},
    ),
]


@pytest.mark.parametrize(
    ("case", "crosses", "expected"), [t[1:] for t in TRANSFERS], ids=[t[0] for t in TRANSFERS]
)
def test_what_crosses_or_is_shared_between_regions_is_found(
    case: Variation, crosses: bool, expected: set[str]
) -> None:
    record = case.record()
    assert record.transfers.crosses_regions is crosses
    regional = {
        "CrossRegionFlow",
        "ServerSharedAcrossRegions",
        "SecretSharedAcrossRegions",
        "TemporalSharedAcrossRegions",
    }
    assert set(codes(record)) & regional == expected


def test_a_flow_across_regions_is_named_with_both_regions() -> None:
    record = TRANSFERS[3][1].record()
    [crossing] = [f for f in record.transfers.flows if f.crosses_regions]
    assert (crossing.source, crossing.source_region) == ("hr-us", "us-east-1")
    assert (crossing.destination, crossing.destination_region) == ("phonebook-eu", "eu-central-1")
    assert "Contacts cross regions" in render(Report(manifest="m", records=[record]))


def test_shared_payload_keys_are_a_warning_shared_credentials_a_question() -> None:
    keys = TRANSFERS[5][1].record()
    [finding] = [f for f in keys.findings if f.code == "SecretSharedAcrossRegions"]
    assert finding.severity is Severity.WARNING
    assert "eu-contact-keys" in finding.message
    credentials = Variation(
        "creds", "multi-region", {"spec.sources[3].carddav.credentialsSecretRef.name": "dav-eu"}
    ).record()
    [finding] = [f for f in credentials.findings if f.code == "SecretSharedAcrossRegions"]
    assert finding.severity is Severity.QUESTION


CONSENT = [
    ("not-required", Variation("nr", "multi-region"), True),
    (
        "not-required-with-purposes",
        Variation("nrp", "quickstart", {"spec.consent.mode": "NotRequired"}),
        True,
    ),
    ("required-purposes", Variation("rp", "quickstart"), False),
    ("required-by-default", Variation("rd", "quickstart", {"spec.consent": DELETE}), False),
]


@pytest.mark.parametrize(
    ("case", "not_required"), [c[1:] for c in CONSENT], ids=[c[0] for c in CONSENT]
)
def test_consent_not_required_is_stated_plainly_and_asked_of_the_dpo(
    case: Variation, not_required: bool
) -> None:
    record = case.record()
    purposes = record.purposes
    text = " ".join(s.text for s in purposes.statements)
    markdown = render(Report(manifest="m", records=[record]))
    assert (purposes.consent_mode == "NotRequired") is not_required
    assert ("Consent is NOT required" in text) is not_required
    assert bool(purposes.questions_for_dpo) is not_required
    assert ("ConsentNotRequired" in codes(record)) is not_required
    assert ("**Question for the DPO:**" in markdown) is not_required
    if not_required:
        # A question, not an answer: the record names no lawful basis of its own.
        assert "Art. 6(1)" in purposes.questions_for_dpo[0]
        assert "which one" in text
    else:
        assert "Consent is required" in text


def test_a_source_that_records_consent_its_own_way_is_named_with_where_and_how() -> None:
    own = {"property": "optIn", "grantedValues": ["ja"]}
    record = Variation("own", "consent-retention", {"spec.sources[1].consent": own}).record()
    [statement] = [s for s in record.purposes.statements if s.source == ["spec.sources[1].consent"]]
    assert statement.text.startswith("Source events records consent in its own optIn")
    assert "ja" in statement.text


def test_purposes_listed_under_not_required_are_said_to_be_unchecked() -> None:
    record = CONSENT[1][1].record()
    assert any("not checked" in s.text for s in record.purposes.statements)


def test_a_default_is_said_to_be_one() -> None:
    record = Variation("defaults", "quickstart").record()
    retention = " ".join(s.text for s in record.retention.statements)
    assert "400d (the default)" in retention
    assert "deletionPolicy: Retain (the default)" in retention
    written = Variation("written", "consent-retention").record()
    retention = " ".join(s.text for s in written.retention.statements)
    assert "(the default)" not in retention
    assert "gone for 30d" in retention


def test_fields_kept_and_dropped_partition_the_contact_model() -> None:
    record = Variation("fields", "consent-retention").record()
    data = record.personal_data
    assert [f.field for f in data.kept] == ["fullName", "emails"]
    assert "birthday" in [f.field for f in data.dropped]
    assert not {f.field for f in data.kept} & {f.field for f in data.dropped}
    assert [f.field for f in data.identity_keys] == ["email"]


def test_controller_and_dpo_come_from_annotations_or_are_not_stated() -> None:
    bare = Variation("bare", "quickstart").record()
    assert bare.contact_sync.controller.value is None
    assert codes(bare).count("NotStated") == 2
    assert "| controller | not stated |" in render(Report(manifest="m", records=[bare]))
    annotated = Variation(
        "annotated",
        "quickstart",
        {
            "metadata.annotations": {
                "contactsync.dev/controller": "Example GmbH, Berlin",
                "contactsync.dev/dpo-contact": "dpo@example.com",
            }
        },
    ).record()
    assert annotated.contact_sync.controller.value == "Example GmbH, Berlin"
    assert annotated.contact_sync.dpo_contact.value == "dpo@example.com"
    assert "NotStated" not in codes(annotated)


CREDENTIALS = (
    "s3cr3t-query-token",
    "s3cr3t-fragment",
    "hunter2",
    "s3cr3t-annotation",
)


def test_the_record_never_holds_credentials_only_secret_names() -> None:
    document = copy.deepcopy(example("consent-retention"))
    # Stored before the rule refusing user information in a URL; a signed download link.
    apply_change(
        document,
        "spec.sources[0].csv.url",
        "https://exports.example.fr/signups.csv?sig=s3cr3t-query-token#s3cr3t-fragment",
    )
    apply_change(
        document,
        "spec.destinations[0].carddav.url",
        "https://sync:hunter2@dav.example.fr/marketing/newsletter/",
    )
    document["metadata"]["annotations"] = {"example.com/deploy-token": "s3cr3t-annotation"}
    record = build_record(parse_contact_sync(document, rules=False))
    report = Report(manifest="m", records=[record])
    for text in (report.to_json(), render(report)):
        for credential in CREDENTIALS:
            assert credential not in text
        assert "exports-token" in text, "Secrets are named"
        assert "https://exports.example.fr/signups.csv" in text
        assert "dav.example.fr" in text


def test_a_database_is_named_by_its_secret_never_by_its_connection_string() -> None:
    record = Variation("pg", "multi-region").record()
    [eu] = [d for d in record.destinations if d.name == "phonebook-eu"]
    assert eu.host is None
    assert "Secret eu-phonebook (key dsn)" in eu.location
    assert "verify-full" in eu.transport


def test_the_markdown_has_every_section_once_per_contactsync() -> None:
    resources = [parse_contact_sync(example(name)) for name in ("quickstart", "multi-region")]
    markdown = render(build_report("m", resources))
    for title in SECTIONS:
        assert markdown.count(f". {title}") == 2, title
    assert markdown.count("# Record of processing activities: ContactSync ") == 2


def test_a_file_on_a_volume_is_reached_over_no_network_and_claims_no_tls() -> None:
    record = Variation("file", "consent-retention").record()
    [events] = [s for s in record.sources if s.name == "events"]
    assert (events.host, events.encrypted_in_transit) == (None, None)
    assert events.location == "file /data/events/attendees.jsonl on a volume of the worker pod"
    assert measure(record, "EncryptionInTransit") is True
