"""Example manifests, and invalid ones made from them by one small change each."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXAMPLES = Path(__file__).parents[2] / "examples"
DELETE = object()
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    return document


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES.glob("*.yaml"))


def _steps(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def apply_change(document: dict[str, Any], path: str, value: object) -> None:
    """Set (or, with DELETE, remove) the value at a path like 'spec.sources[0].carddav.url'."""
    *parents, last = _steps(path)
    node: Any = document
    for step in parents:
        node = node[step]
    if value is DELETE:
        del node[last]
    elif isinstance(last, int) and last == len(node):
        node.append(value)
    else:
        node[last] = value


@dataclass(frozen=True)
class InvalidCase:
    """One invalid manifest: ``base`` example with ``changes``, refused at ``refused_at``."""

    id: str
    base: str
    changes: dict[str, object]
    refused_at: str
    words: tuple[str, ...] = ()  # must appear in the API server's message

    def manifest(self, name: str) -> dict[str, Any]:
        document = copy.deepcopy(example(self.base))
        for path, value in self.changes.items():
            apply_change(document, path, value if value is DELETE else copy.deepcopy(value))
        document["metadata"] = {"name": name}
        return document


Q, M, C = "quickstart", "multi-region", "consent-retention"
V = "vcf-export"
_LDAP = {"url": "ldaps://ldap.example.com", "baseDN": "dc=example,dc=com"}

INVALID: list[InvalidCase] = [
    InvalidCase(
        "http-source-not-allowed",
        Q,
        {"spec.sources[0].carddav.allowInsecure": DELETE},
        "spec.sources[0].carddav.url",
        ("allowInsecure",),
    ),
    InvalidCase(
        "http-destination-not-allowed",
        Q,
        {"spec.destinations[0].carddav.allowInsecure": False},
        "spec.destinations[0].carddav.url",
        ("https://",),
    ),
    InvalidCase(
        "carddav-ftp-url",
        Q,
        {"spec.sources[0].carddav.url": "ftp://dav.example.com/"},
        "spec.sources[0].carddav.url",
    ),
    InvalidCase(
        "ldap-clear-text",
        M,
        {"spec.sources[2].ldap.startTLS": False},
        "spec.sources[2].ldap.url",
        ("startTLS",),
    ),
    InvalidCase(
        "ldap-wrong-scheme",
        M,
        {"spec.sources[0].ldap.url": "https://ldap.example.com"},
        "spec.sources[0].ldap.url",
        ("ldaps://",),
    ),
    InvalidCase(
        "source-two-kinds",
        Q,
        {"spec.sources[0].ldap": _LDAP},
        "spec.sources[0]",
        ("exactly one of carddav, ldap, csv, jsonl, vcf",),
    ),
    InvalidCase(
        "source-no-kind",
        Q,
        {"spec.sources[0].carddav": DELETE},
        "spec.sources[0]",
        ("exactly one",),
    ),
    InvalidCase(
        "destination-two-kinds",
        M,
        {"spec.destinations[0].carddav": {"url": "https://dav.example.com/x/"}},
        "spec.destinations[0]",
        ("exactly one of carddav, postgres",),
    ),
    InvalidCase(
        "destination-no-kind",
        Q,
        {"spec.destinations[0].carddav": DELETE},
        "spec.destinations[0]",
        ("exactly one",),
    ),
    InvalidCase(
        "duplicate-region",
        M,
        {"spec.regions[1].name": "eu-central-1"},
        "spec.regions[1]",
        ("Duplicate",),
    ),
    InvalidCase(
        "duplicate-source", M, {"spec.sources[1].name": "hr-eu"}, "spec.sources[1]", ("Duplicate",)
    ),
    InvalidCase(
        "duplicate-destination",
        M,
        {"spec.destinations[1].name": "phonebook-eu"},
        "spec.destinations[1]",
        ("Duplicate",),
    ),
    InvalidCase(
        "source-unknown-region",
        Q,
        {"spec.sources[0].region": "elsewhere"},
        "spec.sources",
        ("spec.regions",),
    ),
    InvalidCase(
        "destination-unknown-region",
        Q,
        {"spec.destinations[0].region": "elsewhere"},
        "spec.destinations",
        ("spec.regions",),
    ),
    InvalidCase(
        "flow-crosses-regions",
        M,
        {"spec.destinations[0].sources": ["hr-eu", "hr-us"]},
        "spec.destinations",
        ("cross regions",),
    ),
    InvalidCase(
        "destination-names-unknown-source",
        C,
        {"spec.destinations[0].sources": ["signups", "nobody"]},
        "spec.destinations",
        ("own region",),
    ),
    InvalidCase(
        "region-with-destinations-but-no-source",
        M,
        {
            "spec.regions[2]": {"name": "ap-south-1"},
            "spec.destinations[2]": {
                "name": "phonebook-ap",
                "region": "ap-south-1",
                "postgres": {"dsnSecretRef": {"name": "ap", "key": "dsn"}},
            },
        },
        "spec.destinations",
        ("at least one source",),
    ),
    InvalidCase("fields-empty", Q, {"spec.fields": []}, "spec.fields"),
    InvalidCase("fields-missing", Q, {"spec.fields": DELETE}, "spec.fields", ("Required",)),
    InvalidCase(
        "fields-unknown",
        Q,
        {"spec.fields": ["fullName", "socialSecurityNumber"]},
        "spec.fields[1]",
        ("Unsupported value",),
    ),
    InvalidCase(
        "fields-duplicate",
        Q,
        {"spec.fields": ["emails", "emails"]},
        "spec.fields[1]",
        ("Duplicate",),
    ),
    InvalidCase("identity-unknown", Q, {"spec.identity": ["email", "ssn"]}, "spec.identity[1]"),
    InvalidCase(
        "cron-and-interval",
        Q,
        {"spec.schedule.cron": "*/5 * * * *"},
        "spec.schedule",
        ("exactly one of cron",),
    ),
    InvalidCase(
        "neither-cron-nor-interval",
        Q,
        {"spec.schedule.interval": DELETE, "spec.schedule.jitter": DELETE},
        "spec.schedule",
        ("exactly one of cron",),
    ),
    InvalidCase(
        "cron-malformed", M, {"spec.schedule.cron": "every 15 minutes"}, "spec.schedule.cron"
    ),
    InvalidCase(
        "cron-six-fields", M, {"spec.schedule.cron": "0 */15 * * * * *"}, "spec.schedule.cron"
    ),
    *(
        InvalidCase(f"cron-{what}", M, {"spec.schedule.cron": cron}, "spec.schedule.cron", (words,))
        for what, cron, words in (
            ("minute-60", "60 * * * *", "minute (0-59)"),
            ("hour-24", "0 24 * * *", "hour (0-23)"),
            ("day-of-month-0", "0 0 0 * *", "day of month (1-31)"),
            ("day-of-month-32", "0 0 32 * *", "day of month (1-31)"),
            ("month-13", "0 0 1 13 *", "month (1-12 or JAN-DEC)"),
            ("month-name-unknown", "0 0 1 JANUARY *", "JAN-DEC"),
            ("day-of-week-8", "0 0 * * 8", "day of week (0-7 or SUN-SAT"),
            ("range-end-out-of-range", "0 9-25 * * *", "hour (0-23)"),
            ("list-item-out-of-range", "0,15,75 * * * *", "minute (0-59)"),
            ("step-zero", "*/0 * * * *", "/step"),
            ("question-mark", "0 0 ? * *", "day of month"),
            ("hash-comment", "0 0 * * 1#2", "day of week"),
        )
    ),
    InvalidCase(
        "interval-malformed", Q, {"spec.schedule.interval": "15 minutes"}, "spec.schedule.interval"
    ),
    InvalidCase("interval-in-days", Q, {"spec.schedule.interval": "1d"}, "spec.schedule.interval"),
    InvalidCase(
        "interval-zero",
        Q,
        {"spec.schedule.interval": "0s", "spec.schedule.jitter": DELETE},
        "spec.schedule.interval",
        ("at least 1m",),
    ),
    InvalidCase(
        "interval-one-second",
        Q,
        {"spec.schedule.interval": "1s", "spec.schedule.jitter": DELETE},
        "spec.schedule.interval",
        ("at least 1m",),
    ),
    InvalidCase(
        "interval-under-a-minute",
        Q,
        {"spec.schedule.interval": "59s", "spec.schedule.jitter": "10s"},
        "spec.schedule.interval",
        ("at least 1m",),
    ),
    InvalidCase(
        "jitter-not-shorter",
        Q,
        {"spec.schedule.jitter": "15m"},
        "spec.schedule.jitter",
        ("shorter than",),
    ),
    InvalidCase(
        "jitter-malformed", M, {"spec.schedule.jitter": "two minutes"}, "spec.schedule.jitter"
    ),
    InvalidCase(
        "overlap-unknown",
        M,
        {"spec.schedule.overlap": "Sometimes"},
        "spec.schedule.overlap",
        ("Unsupported value",),
    ),
    InvalidCase(
        "ldaps-with-start-tls",
        M,
        {"spec.sources[0].ldap.startTLS": True},
        "spec.sources[0].ldap.startTLS",
        ("ldaps://",),
    ),
    InvalidCase(
        "carddav-url-with-password",
        Q,
        {"spec.sources[0].carddav.url": "http://alice:s3cret@127.0.0.1:5232/alice/team/"},
        "spec.sources[0].carddav.url",
        ("user name or password",),
    ),
    InvalidCase(
        "carddav-destination-vcard-version-unknown",
        Q,
        {"spec.destinations[0].carddav.vcardVersion": "2.1"},
        "spec.destinations[0].carddav.vcardVersion",
        ("Unsupported value",),
    ),
    InvalidCase(
        # A source reads whatever version each card holds: it has nothing to choose.
        "carddav-source-vcard-version",
        Q,
        {"spec.sources[0].carddav.vcardVersion": "4.0"},
        "spec.sources[0].carddav.vcardVersion",
        ("unknown field",),
    ),
    InvalidCase(
        "carddav-destination-url-with-user",
        Q,
        {"spec.destinations[0].carddav.url": "http://alice@127.0.0.1:5232/alice/phonebook/"},
        "spec.destinations[0].carddav.url",
        ("user name or password",),
    ),
    InvalidCase(
        "ldap-url-with-password",
        M,
        {"spec.sources[0].ldap.url": "ldaps://cn=admin:secret@ldap.eu.example.com"},
        "spec.sources[0].ldap.url",
        ("user name or password",),
    ),
    InvalidCase(
        "file-url-with-token",
        C,
        {"spec.sources[0].csv.url": "https://token:x-oauth@exports.example.fr/signups.csv"},
        "spec.sources[0].csv.url",
        ("credentialsSecretRef",),
    ),
    InvalidCase(
        "file-path-climbs-out",
        C,
        {"spec.sources[1].jsonl.path": "/data/events/../../etc/passwd"},
        "spec.sources[1].jsonl.path",
        ("'..'",),
    ),
    InvalidCase(
        "file-path-ends-in-parent",
        C,
        {"spec.sources[1].jsonl.path": "/data/events/.."},
        "spec.sources[1].jsonl.path",
        ("'..'",),
    ),
    InvalidCase(
        "quantity-malformed",
        M,
        {"spec.regions[0].workers.resources.requests.cpu": "100 millicores"},
        "spec.regions[0].workers.resources.requests",
        ("Kubernetes quantity",),
    ),
    InvalidCase(
        "quantity-unknown-suffix",
        M,
        {"spec.regions[0].workers.resources.limits.memory": "512MB"},
        "spec.regions[0].workers.resources.limits",
        ("Kubernetes quantity",),
    ),
    InvalidCase(
        "quantity-negative-string",
        M,
        {"spec.regions[0].workers.resources.limits.memory": "-512Mi"},
        "spec.regions[0].workers.resources.limits",
        ("at least 0",),
    ),
    InvalidCase(
        "quantity-negative-number",
        M,
        {"spec.regions[0].workers.resources.requests.cpu": -1},
        "spec.regions[0].workers.resources.requests",
        ("at least 0",),
    ),
    InvalidCase(
        "temporal-namespace-with-slash",
        M,
        {"spec.regions[0].temporal.namespace": "contacts/eu"},
        "spec.regions[0].temporal.namespace",
        ("Temporal namespace name",),
    ),
    InvalidCase(
        "temporal-namespace-with-space",
        M,
        {"spec.regions[1].temporal.namespace": "contacts us"},
        "spec.regions[1].temporal.namespace",
        ("Temporal namespace name",),
    ),
    InvalidCase(
        "secret-name-upper-case",
        M,
        {"spec.regions[0].encryption.keysSecretRef.name": "EU_Contact_Keys"},
        "spec.regions[0].encryption.keysSecretRef.name",
        ("Secret name",),
    ),
    InvalidCase(
        "secret-name-with-space",
        Q,
        {"spec.sources[0].carddav.credentialsSecretRef.name": "dav alice"},
        "spec.sources[0].carddav.credentialsSecretRef.name",
        ("Secret name",),
    ),
    InvalidCase(
        "secret-key-ref-name-invalid",
        M,
        {"spec.regions[0].store.postgres.dsnSecretRef.name": "-eu-store"},
        "spec.regions[0].store.postgres.dsnSecretRef.name",
        ("Secret name",),
    ),
    InvalidCase(
        "destination-is-its-own-source",
        Q,
        {"spec.destinations[0].carddav.url": "http://127.0.0.1:5232/alice/team/"},
        "spec.destinations",
        ("feedback loop",),
    ),
    InvalidCase(
        "destination-is-a-source-but-for-the-slash",
        Q,
        {"spec.destinations[0].carddav.url": "http://127.0.0.1:5232/alice/team"},
        "spec.destinations",
        ("feedback loop",),
    ),
    InvalidCase(
        "two-destinations-one-address-book",
        Q,
        {
            "spec.destinations[1]": {
                "name": "phonebook-again",
                "region": "local",
                "carddav": {"url": "http://127.0.0.1:5232/alice/phonebook", "allowInsecure": True},
            }
        },
        "spec.destinations",
        ("same carddav url",),
    ),
    InvalidCase(
        "two-destinations-one-table",
        M,
        {"spec.destinations[1].postgres.dsnSecretRef.name": "eu-phonebook"},
        "spec.destinations",
        ("same postgres dsnSecretRef",),
    ),
    InvalidCase(
        "time-zone-malformed",
        M,
        {"spec.schedule.timeZone": "Europe Berlin"},
        "spec.schedule.timeZone",
    ),
    InvalidCase("schedule-missing", Q, {"spec.schedule": DELETE}, "spec.schedule", ("Required",)),
    InvalidCase(
        "max-delete-over-100",
        M,
        {"spec.deletes.maxDeletePercent": 101},
        "spec.deletes.maxDeletePercent",
    ),
    InvalidCase(
        "max-delete-negative",
        M,
        {"spec.deletes.maxDeletePercent": -1},
        "spec.deletes.maxDeletePercent",
    ),
    InvalidCase(
        "retention-negative",
        C,
        {"spec.retention.removedContacts": "-1d"},
        "spec.retention.removedContacts",
    ),
    InvalidCase(
        "retention-malformed", C, {"spec.retention.auditLog": "1 year"}, "spec.retention.auditLog"
    ),
    InvalidCase("regions-empty", Q, {"spec.regions": []}, "spec.regions"),
    InvalidCase("sources-empty", Q, {"spec.sources": []}, "spec.sources"),
    InvalidCase(
        "region-name-not-dns",
        Q,
        {
            "spec.regions[0].name": "Local_Region",
            "spec.sources[0].region": "Local_Region",
            "spec.destinations[0].region": "Local_Region",
        },
        "spec.regions[0].name",
    ),
    InvalidCase(
        "replicas-negative",
        M,
        {"spec.regions[0].workers.replicas": -1},
        "spec.regions[0].workers.replicas",
    ),
    InvalidCase(
        "replicas-without-a-shared-store",
        M,
        {"spec.regions[0].store": DELETE},
        "spec.regions[0].workers.replicas",
        ("store.postgres",),
    ),
    InvalidCase(
        "consent-mode-unknown",
        Q,
        {"spec.consent.mode": "Maybe"},
        "spec.consent.mode",
        ("Unsupported value",),
    ),
    InvalidCase(
        "consent-granted-word-means-no",
        Q,
        {"spec.consent.grantedValues": ["yes", "No"]},
        "spec.consent.grantedValues",
        ("cannot mean both yes and no",),
    ),
    InvalidCase(
        "consent-granted-word-also-withdrawn",
        Q,
        {"spec.consent.grantedValues": ["ja"], "spec.consent.withdrawnValues": ["JA"]},
        "spec.consent.grantedValues",
        ("cannot mean both yes and no",),
    ),
    InvalidCase(
        "consent-purpose-is-a-consent-word",
        C,
        {"spec.consent.purposes[1]": "Withdrawn"},
        "spec.consent.purposes",
        ("cannot be 'until' or a word that means yes or no",),
    ),
    InvalidCase(
        "consent-purpose-is-the-expiry-key",
        C,
        {"spec.consent.purposes[1]": "until"},
        "spec.consent.purposes",
        ("cannot be 'until'",),
    ),
    InvalidCase(
        "consent-purpose-with-a-separator",
        Q,
        {"spec.consent.purposes[0]": "directory,newsletter"},
        "spec.consent.purposes[0]",
    ),
    InvalidCase(
        "consent-granted-values-empty",
        Q,
        {"spec.consent.grantedValues": []},
        "spec.consent.grantedValues",
    ),
    InvalidCase(
        "source-consent-granted-word-means-no",
        Q,
        {"spec.sources[0].consent": {"property": "description", "grantedValues": ["ja", "No"]}},
        "spec.sources[0].consent.grantedValues",
        ("cannot mean both yes and no",),
    ),
    InvalidCase(
        "source-consent-granted-word-also-its-withdrawn",
        Q,
        {"spec.sources[0].consent": {"grantedValues": ["ja"], "withdrawnValues": ["JA"]}},
        "spec.sources[0].consent.grantedValues",
        ("cannot mean both yes and no",),
    ),
    InvalidCase(
        "source-consent-property-with-a-space",
        Q,
        {"spec.sources[0].consent": {"property": "X CONSENT"}},
        "spec.sources[0].consent.property",
    ),
    InvalidCase(
        "source-consent-granted-word-inherited-as-withdrawn",
        Q,
        {
            "spec.consent.withdrawnValues": ["nein"],
            "spec.sources[0].consent": {"grantedValues": ["Nein"]},
        },
        "spec.sources",
        ("sources[].consent.grantedValues", "spec.consent.withdrawnValues"),
    ),
    InvalidCase(
        "source-consent-withdrawn-word-inherited-as-granted",
        Q,
        {"spec.sources[0].consent": {"withdrawnValues": ["Yes"]}},
        "spec.sources",
        ("sources[].consent.withdrawnValues", "spec.consent.grantedValues"),
    ),
    InvalidCase(
        "source-consent-word-is-a-purpose",
        C,
        {"spec.sources[1].consent": {"property": "optIn", "grantedValues": ["Events"]}},
        "spec.sources",
        ("spec.consent.purposes",),
    ),
    InvalidCase(
        "values-invalid-unknown",
        Q,
        {"spec.values": {"invalid": "Keep"}},
        "spec.values.invalid",
        ("Unsupported value",),
    ),
    InvalidCase(
        "values-e164-without-region",
        Q,
        {"spec.values": {"phones": {"normalize": "E164"}}},
        "spec.values.phones.defaultRegion",
        ("normalize E164 needs the region",),
    ),
    InvalidCase(
        "values-region-lower-case",
        Q,
        {"spec.values": {"phones": {"normalize": "E164", "defaultRegion": "de"}}},
        "spec.values.phones.defaultRegion",
    ),
    InvalidCase(
        "deletion-policy-unknown",
        C,
        {"spec.deletionPolicy": "Delete"},
        "spec.deletionPolicy",
        ("Unsupported value",),
    ),
    InvalidCase(
        "file-path-and-url",
        C,
        {"spec.sources[0].csv.path": "/data/signups.csv"},
        "spec.sources[0].csv",
        ("exactly one of path and url",),
    ),
    InvalidCase(
        "file-http-not-allowed",
        C,
        {"spec.sources[0].csv.url": "http://exports.example.fr/signups.csv"},
        "spec.sources[0].csv.url",
        ("allowInsecure",),
    ),
    InvalidCase(
        "vcf-neither-path-nor-url",
        V,
        {"spec.sources[1].vcf.path": DELETE},
        "spec.sources[1].vcf",
        ("exactly one of path and url",),
    ),
    InvalidCase(
        "file-relative-path",
        C,
        {"spec.sources[1].jsonl.path": "data/attendees.jsonl"},
        "spec.sources[1].jsonl.path",
    ),
    InvalidCase(
        "postgres-table-not-identifier",
        M,
        {"spec.destinations[0].postgres.table": "phone book; drop"},
        "spec.destinations[0].postgres.table",
    ),
    InvalidCase(
        "secret-ref-without-key",
        M,
        {"spec.regions[0].store.postgres.dsnSecretRef": {"name": "eu-store"}},
        "spec.regions[0].store.postgres.dsnSecretRef.key",
        ("Required",),
    ),
    InvalidCase(
        "unknown-field",
        Q,
        {"spec.regions[0].zone": "a"},
        "spec.regions[0].zone",
        ("unknown field",),
    ),
    InvalidCase(
        "mapping-unknown-field",
        C,
        {"spec.sources[0].csv.mapping": {"entries": [{"name": "full_name", "field": "fulName"}]}},
        "spec.sources[0].csv.mapping.entries[0].field",
        ("fulName", "fullName"),
    ),
    InvalidCase(
        "mapping-types-on-untyped-field",
        C,
        {
            "spec.sources[0].csv.mapping": {
                "entries": [{"name": "n", "field": "note", "types": ["work"]}]
            }
        },
        "spec.sources[0].csv.mapping.entries[0].types",
        ("typed fields only",),
    ),
    InvalidCase(
        "mapping-type-not-a-word",
        C,
        {
            "spec.sources[0].csv.mapping": {
                "entries": [{"name": "e", "field": "emails", "types": ["Work!"]}]
            }
        },
        "spec.sources[0].csv.mapping.entries[0].types[0]",
        ("Work!",),
    ),
    InvalidCase(
        "mapping-component-not-of-addresses",
        C,
        {
            "spec.sources[0].csv.mapping": {
                "entries": [{"name": "e", "field": "emails", "component": "street"}]
            }
        },
        "spec.sources[0].csv.mapping.entries[0].component",
        ("addresses only",),
    ),
    InvalidCase(
        "mapping-preset-of-another-kind",
        C,
        {"spec.sources[0].csv.mapping": {"preset": "inetorgperson"}},
        "spec.sources[0].csv.mapping.preset",
        ("google-csv", "outlook-csv"),
    ),
]


# What the API server admits because no CEL rule can check it (CEL has no time zone database
# and cannot parse a nested LDAP filter): the model refuses each, in `contactsync check` and
# in the operator, which reports the ContactSync Degraded with reason InvalidSpec.
MODEL_ONLY: list[InvalidCase] = [
    InvalidCase(
        "values-region-without-numbering-plan",
        Q,
        {"spec.values": {"phones": {"defaultRegion": "XX"}}},
        "spec.values.phones.defaultRegion",
        ("no country code with a telephone numbering plan",),
    ),
    InvalidCase(
        "time-zone-unknown",
        M,
        {"spec.schedule.timeZone": "Europe/Berln"},
        "spec.schedule.timeZone",
        ("IANA",),
    ),
    InvalidCase(
        "time-zone-wrong-case",
        C,
        {"spec.schedule.timeZone": "europe/paris"},
        "spec.schedule.timeZone",
        ("did you mean Europe/Paris",),
    ),
    InvalidCase(
        "ldap-filter-unbalanced",
        M,
        {"spec.sources[0].ldap.filter": "(&(objectClass=inetOrgPerson)(!(employeeType=x))"},
        "spec.sources[0].ldap.filter",
        ("RFC 4515",),
    ),
    InvalidCase(
        "ldap-filter-two-filters-without-operator",
        M,
        {"spec.sources[2].ldap.filter": "(objectClass=person)(mail=*)"},
        "spec.sources[2].ldap.filter",
        ("after the filter",),
    ),
    InvalidCase(
        "ldap-filter-bad-escape",
        M,
        {"spec.sources[0].ldap.filter": "(cn=Erika\\zz)"},
        "spec.sources[0].ldap.filter",
        ("two hex digits",),
    ),
    InvalidCase(
        "mapping-names-a-column-twice",
        C,
        {
            "spec.sources[0].csv.mapping": {
                "entries": [{"name": "Notes", "field": "note"}, {"name": "notes", "field": "title"}]
            }
        },
        "spec.sources[0].csv.mapping.entries",
        ("twice",),
    ),
]
