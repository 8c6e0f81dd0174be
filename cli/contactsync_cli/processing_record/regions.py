"""Where the processing happens: each region's workers, store, Temporal and Secrets, and what
is shared between regions (a way for data to leave one)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from contactsync_api.manifest import ContactSync
from contactsync_api.spec import RegionSpec
from contactsync_cli.processing_record.model import (
    Endpoint,
    Flow,
    Region,
    Statement,
    TemporalPlacement,
)
from contactsync_cli.processing_record.wording import listing
from contactsync_operator.children import endpoint_ports
from contactsync_operator.secret_access import mounted_secrets
from contactsync_operator.settings import OperatorSettings

# The operator's defaults; a cluster may configure others (docs/operator.md).
SETTINGS = OperatorSettings()
OPERATOR_DEFAULT = "the operator's default"


def regions(resource: ContactSync) -> list[Region]:
    return [_region(resource, index, region) for index, region in enumerate(resource.spec.regions)]


def _region(resource: ContactSync, index: int, region: RegionSpec) -> Region:
    path = f"spec.regions[{index}]"
    temporal = region.temporal
    return Region(
        name=region.name,
        workers=_workers(path, region),
        store=_store(path, region),
        encryption_keys_secret=region.encryption.keys_secret_ref.name
        if region.encryption
        else None,
        temporal=TemporalPlacement(
            namespace=temporal.namespace if temporal else None,
            address=temporal.address if temporal else None,
            own_credentials=bool(
                temporal and (temporal.tls_secret_ref or temporal.api_key_secret_ref)
            ),
        ),
        secrets=mounted_secrets(resource, region),
        egress_ports=endpoint_ports(resource, region.name, SETTINGS),
        source=[path],
    )


def _workers(path: str, region: RegionSpec) -> Statement:
    replicas = region.workers.replicas
    label = f"{SETTINGS.region_label}={region.name}"
    if replicas == 0:
        text = f"No worker pods (replicas: 0): nothing is processed in {region.name} for now."
    else:
        text = f"{replicas} worker pod(s), scheduled only on nodes labelled {label}."
    return Statement(text=text, source=[f"{path}.name", f"{path}.workers.replicas"])


def _store(path: str, region: RegionSpec) -> Statement:
    what = "sync state, identity pseudonyms and the audit trail (no contact content)"
    if region.store and region.store.postgres:
        ref = region.store.postgres.dsn_secret_ref
        return Statement(
            text=f"PostgreSQL named by Secret {ref.name} (key {ref.key}) holds {what}.",
            source=[f"{path}.store.postgres"],
        )
    return Statement(
        text=f"SQLite on a PersistentVolumeClaim in the region's namespace holds {what}.",
        source=[f"{path}.store"],
    )


def region_statements(resource: ContactSync, flows: list[Flow]) -> list[Statement]:
    statements = [_flows(flows)]
    for index, region in enumerate(resource.spec.regions):
        statements.append(_temporal(index, region))
    statements.append(
        Statement(
            text=(
                "The spec names no ContactSyncEgressPolicy: the cluster-scoped policies that "
                f"select namespace {resource.namespace} decide which addresses the workers may "
                "reach (kubectl get contactsyncegresspolicies); a namespace none selects gets "
                "no workers. Each region's NetworkPolicy opens only the ports of its own servers "
                "to those addresses, besides DNS and Temporal."
            ),
            source=["metadata.namespace"],
        )
    )
    statements.append(
        Statement(
            text=(
                "The spec says which host each server is reached at, not where it stands: "
                "whether a server lies outside its region's country, a transfer to a third "
                "country (Art. 44-49 GDPR), is for the controller to establish."
            ),
            source=["spec.sources", "spec.destinations"],
        )
    )
    return statements


def _flows(flows: list[Flow]) -> Statement:
    crossing = [f for f in flows if f.crosses_regions]
    if crossing:
        listed = listing(
            [
                f"{f.source} ({f.source_region}) to {f.destination} ({f.destination_region})"
                for f in crossing
            ]
        )
        text = f"Contacts cross regions: {listed}."
    else:
        text = (
            "Every destination receives only sources of its own region: contacts are read, "
            "processed and written inside one region."
        )
    return Statement(text=text, source=["spec.destinations[].sources", "spec.sources[].region"])


def _temporal(index: int, region: RegionSpec) -> Statement:
    path = f"spec.regions[{index}].temporal"
    temporal = region.temporal
    namespace = temporal.namespace if temporal and temporal.namespace else None
    address = temporal.address if temporal and temporal.address else None
    where = (f"namespace {namespace}" if namespace else f"{OPERATOR_DEFAULT} namespace") + (
        f" on {address}" if address else f" on {OPERATOR_DEFAULT} frontend"
    )
    if region.encryption:
        sealed = (
            "payloads are AES-256-GCM encrypted with keys from Secret "
            f"{region.encryption.keys_secret_ref.name}, so Temporal holds no readable contact data"
        )
    else:
        sealed = "no payload keys are named, so the operator does not deploy the region"
    return Statement(
        text=f"Region {region.name}: Temporal schedules and workflows in {where}; {sealed}.",
        source=[path, f"spec.regions[{index}].encryption"],
    )


def shared_between_regions(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Of (thing, region) pairs, each thing more than one region uses, with those regions."""
    by_thing: dict[str, set[str]] = defaultdict(set)
    for thing, region in pairs:
        by_thing[thing].add(region)
    return {thing: sorted(found) for thing, found in by_thing.items() if len(found) > 1}


def shared_servers(endpoints: list[Endpoint]) -> dict[str, list[str]]:
    return shared_between_regions((e.host, e.region) for e in endpoints if e.host)


def shared_secrets(regions: list[Region]) -> dict[str, list[str]]:
    return shared_between_regions((name, r.name) for r in regions for name in r.secrets)


def shared_temporal(regions: list[Region]) -> dict[str, list[str]]:
    """Frontends several regions use: namespaces of one Temporal cluster share its database."""
    return shared_between_regions(
        (r.temporal.address or f"{OPERATOR_DEFAULT} frontend", r.name) for r in regions
    )
