"""The slice of a ContactSync one region's workers need, as mounted into their pods.

Only the region's own sources and destinations are included, so a worker cannot
even learn about another region's endpoints. Secrets appear by name only.
"""

from __future__ import annotations

from contactsync_api.egress import RegionEgress
from contactsync_api.endpoints import EndpointSpec
from contactsync_api.manifest import ContactSync
from contactsync_api.spec import ContactSyncSpec, RegionConfig
from contactsync_api.values import SecretKeyRef


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
        values=spec.values,
        deletes=spec.deletes,
        retention=spec.retention,
        deletion_policy=spec.deletion_policy,
        egress=egress,
    )


def endpoints(resource: ContactSync, region: str) -> list[EndpointSpec]:
    """Every server the manifest has the region's workers reach: those of its sources, its
    destinations and its store, in that order."""
    spec = region_spec(resource, region)
    found = [s.endpoint for s in spec.sources] + [d.endpoint for d in spec.destinations]
    for declared in spec.regions:
        if declared.store is not None and declared.store.postgres is not None:
            found.append(declared.store.postgres)
    return found


def referenced_secrets(resource: ContactSync, region: str) -> list[str]:
    """Names of the Secrets the region's sources, destinations and store refer to."""
    refs = (ref for endpoint in endpoints(resource, region) for ref in endpoint.secret_refs())
    return list(dict.fromkeys(ref.name for ref in refs))


def port_secret_refs(resource: ContactSync, region: str) -> list[SecretKeyRef]:
    """The Secret keys whose connection strings name ports the region's workers dial."""
    refs = (endpoint.port_secret_ref() for endpoint in endpoints(resource, region))
    return [ref for ref in refs if ref is not None]
