"""The slice of a ContactSync one region's workers need, as mounted into their pods.

Only the region's own sources and destinations are included, so a worker cannot
even learn about another region's endpoints. Secrets appear by name only.
"""

from __future__ import annotations

from typing import Any

from contactsync_api.egress import RegionEgress
from contactsync_api.manifest import ContactSync
from contactsync_api.spec import ContactSyncSpec, RegionConfig


def region_spec(resource: ContactSync, region: str) -> ContactSyncSpec:
    spec = resource.spec
    return spec.model_copy(
        update={
            "regions": [r for r in spec.regions if r.name == region],
            "sources": [s for s in spec.sources if s.region == region],
            "destinations": [d for d in spec.destinations if d.region == region],
        }
    )


def region_config(
    resource: ContactSync, region: str, egress: RegionEgress | None = None
) -> RegionConfig:
    spec = region_spec(resource, region)
    return RegionConfig(
        contact_sync=f"{resource.namespace}/{resource.name}",
        region=spec.regions[0],
        sources=spec.sources,
        destinations=spec.destinations,
        fields=spec.fields,
        identity=spec.identity,
        consent=spec.consent,
        deletes=spec.deletes,
        retention=spec.retention,
        deletion_policy=spec.deletion_policy,
        egress=egress,
    )


def referenced_secrets(resource: ContactSync, region: str) -> list[str]:
    """Names of the Secrets the region's sources, destinations and store refer to."""
    spec = region_spec(resource, region)
    names: list[str] = []

    def add(reference: Any) -> None:
        if reference is not None and reference.name not in names:
            names.append(reference.name)

    for endpoint in [*(s.carddav or s.ldap or s.csv or s.jsonl for s in spec.sources)]:
        add(getattr(endpoint, "credentials_secret_ref", None))
        add(getattr(endpoint, "ca_bundle_secret_ref", None))
    for destination in spec.destinations:
        if destination.carddav is not None:
            add(destination.carddav.credentials_secret_ref)
            add(destination.carddav.ca_bundle_secret_ref)
        if destination.postgres is not None:
            add(destination.postgres.dsn_secret_ref)
            add(destination.postgres.ca_bundle_secret_ref)
    for declared in spec.regions:
        if declared.store is not None and declared.store.postgres is not None:
            add(declared.store.postgres.dsn_secret_ref)
            add(declared.store.postgres.ca_bundle_secret_ref)
    return names
