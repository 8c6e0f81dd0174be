"""One sample endpoint per kind of source and destination, with what the operator must give
the workers for it: the ports they dial and the Secrets they mount.

A kind added to ``SourceSpec`` or ``DestinationSpec`` without a sample here fails
``test_the_samples_cover_every_registered_kind``; its sample then proves the kind's ports
reach the NetworkPolicy and its Secrets the pod.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contactsync_api.kinds import Role

CA = {"key": "ca.crt"}


@dataclass(frozen=True)
class EndpointSample:
    role: Role
    key: str  # the kind, as the manifest names it
    endpoint: dict[str, Any]
    ports: frozenset[int]
    secrets: frozenset[str]

    @property
    def id(self) -> str:
        return f"{self.role}-{self.key}"


SAMPLES = [
    EndpointSample(
        Role.SOURCE,
        "carddav",
        {
            "url": "https://dav.example.com:8443/team/",
            "credentialsSecretRef": {"name": "dav-reader"},
            "caBundleSecretRef": {"name": "dav-ca", **CA},
        },
        frozenset({8443}),
        frozenset({"dav-reader", "dav-ca"}),
    ),
    EndpointSample(
        Role.SOURCE,
        "ldap",
        {
            "url": "ldaps://ldap.example.com:1636",
            "baseDN": "ou=people,dc=example,dc=com",
            "credentialsSecretRef": {"name": "ldap-bind"},
        },
        frozenset({1636}),
        frozenset({"ldap-bind"}),
    ),
    EndpointSample(
        Role.SOURCE,
        "csv",
        {
            "url": "https://files.example.com:9443/people.csv",
            "credentialsSecretRef": {"name": "files-token"},
        },
        frozenset({9443}),
        frozenset({"files-token"}),
    ),
    EndpointSample(
        Role.SOURCE,
        "jsonl",
        {
            "url": "https://files.example.com/people.jsonl",
            "caBundleSecretRef": {"name": "files-ca", **CA},
        },
        frozenset({443}),
        frozenset({"files-ca"}),
    ),
    EndpointSample(
        Role.SOURCE,
        "vcf",
        {
            "url": "https://files.example.com:8443/contacts.vcf",
            "credentialsSecretRef": {"name": "files-token"},
            "caBundleSecretRef": {"name": "files-ca", **CA},
        },
        frozenset({8443}),
        frozenset({"files-token", "files-ca"}),
    ),
    EndpointSample(
        Role.DESTINATION,
        "carddav",
        {
            "url": "https://dav.example.com:8444/phonebook/",
            "credentialsSecretRef": {"name": "dav-writer"},
        },
        frozenset({8444}),
        frozenset({"dav-writer"}),
    ),
    EndpointSample(
        Role.DESTINATION,
        "postgres",
        {
            "dsnSecretRef": {"name": "phonebook-db", "key": "dsn"},
            "caBundleSecretRef": {"name": "phonebook-db-ca", **CA},
        },
        frozenset({5432}),
        frozenset({"phonebook-db", "phonebook-db-ca"}),
    ),
]
