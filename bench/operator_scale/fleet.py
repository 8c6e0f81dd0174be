"""The ContactSyncs the benchmark applies, and the namespaces and Secrets they need (pure).

Each ContactSync has R regions, each with one CardDAV source, one PostgreSQL destination, a
PostgreSQL state store and its payload keys, in a Temporal namespace of its own, like
examples/multi-region.yaml. ContactSyncs are grouped into namespaces, a team's worth each, and
share their namespace's Secrets: a Secret lists every ContactSync of its namespace in the
``contactsync.dev/use`` annotation, as owners of a shared Secret do.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any

from contactsync_api.spec import GROUP, VERSION
from contactsync_operator.naming import SECRET_USE_LABEL

_NAMED_REGIONS = ("eu-central-1", "us-east-1", "ap-south-1", "sa-east-1")
NAMESPACE_LABEL = "bench.contactsync.dev/operator-scale"


@dataclass(frozen=True)
class Fleet:
    resources: int
    regions: int
    per_namespace: int

    @property
    def region_names(self) -> list[str]:
        named = list(_NAMED_REGIONS[: self.regions])
        return named + [f"region-{i}" for i in range(len(named), self.regions)]

    @property
    def namespaces(self) -> list[str]:
        count = -(-self.resources // self.per_namespace)
        return [f"bench-{i:03d}" for i in range(count)]

    def temporal_namespace(self, region: str) -> str:
        return f"contacts-{region}"

    def members(self, namespace: str) -> list[str]:
        """The names of the ContactSyncs in ``namespace``."""
        index = self.namespaces.index(namespace)
        first = index * self.per_namespace
        last = min(first + self.per_namespace, self.resources)
        return [f"book-{i:04d}" for i in range(first, last)]

    def contact_syncs(self) -> list[dict[str, Any]]:
        return [
            contact_sync(self, namespace, name)
            for namespace in self.namespaces
            for name in self.members(namespace)
        ]

    def secrets(self, namespace: str) -> list[dict[str, Any]]:
        """The Secrets every ContactSync of ``namespace`` names, opted in for all of them."""
        users = ",".join(self.members(namespace))
        made = []
        for region in self.region_names:
            key = base64.b64encode(secrets.token_bytes(32)).decode()
            data = {
                f"{region}-contact-keys": {"k0001": key},
                f"{region}-dav": {"username": "bench", "password": "not-used"},
                f"{region}-store": {
                    "dsn": f"postgresql://bench@db.{region}.example.com:5432/state"
                },
                f"{region}-phonebook": {
                    "dsn": f"postgresql://bench@db.{region}.example.com:5432/phonebook"
                },
            }
            made += [
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "annotations": {SECRET_USE_LABEL: users},
                    },
                    "stringData": values,
                }
                for name, values in data.items()
            ]
        return made


def contact_sync(fleet: Fleet, namespace: str, name: str) -> dict[str, Any]:
    regions = fleet.region_names
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ContactSync",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "schedule": {"cron": "*/15 * * * *", "jitter": "2m", "timeZone": "Europe/Berlin"},
            "regions": [
                {
                    "name": region,
                    "workers": {"replicas": 1},
                    "store": {
                        "postgres": {"dsnSecretRef": {"name": f"{region}-store", "key": "dsn"}}
                    },
                    "encryption": {"keysSecretRef": {"name": f"{region}-contact-keys"}},
                    "temporal": {"namespace": fleet.temporal_namespace(region)},
                }
                for region in regions
            ],
            "sources": [
                {
                    "name": f"sales-{region}",
                    "region": region,
                    "carddav": {
                        "url": f"https://dav.{region}.example.com/{namespace}/{name}/",
                        "credentialsSecretRef": {"name": f"{region}-dav"},
                    },
                }
                for region in regions
            ],
            "destinations": [
                {
                    "name": f"phonebook-{region}",
                    "region": region,
                    "postgres": {
                        "dsnSecretRef": {"name": f"{region}-phonebook", "key": "dsn"},
                        "table": name.replace("-", "_"),
                    },
                }
                for region in regions
            ],
            "fields": ["fullName", "givenName", "familyName", "emails", "phones"],
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
        },
    }
