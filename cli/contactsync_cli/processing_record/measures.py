"""The technical and organisational measures (Art. 32 GDPR) ContactSync applies, each said of
this spec: what it gets, region by region and server by server, and where it falls short.

Each measure is one that docs/security.md backs with a test; nothing here is claimed of a
deployment the spec cannot show (the cluster's CNI, the Temporal server's own settings).
"""

from __future__ import annotations

from contactsync_api.manifest import ContactSync
from contactsync_cli.processing_record.model import (
    Endpoint,
    Measure,
    Region,
    Statement,
    Transfers,
)
from contactsync_cli.processing_record.wording import listing
from contactsync_operator.naming import SECRET_USE_LABEL


def security_measures(
    resource: ContactSync, endpoints: list[Endpoint], transfers: Transfers
) -> list[Measure]:
    regions = transfers.regions
    return [
        _in_transit(endpoints),
        _payloads(regions),
        _minimization(resource),
        _pseudonyms(regions),
        _audit_trail(regions),
        _secrets(resource, regions),
        _egress(regions),
        _pods(regions),
        _signed_requests(regions),
        _mass_delete_guard(resource),
    ]


def _per_region(regions: list[Region], say: str) -> list[Statement]:
    return [
        Statement(text=f"Region {r.name}: {say.format(region=r)}", source=r.source) for r in regions
    ]


def _keyed(regions: list[Region]) -> list[Region]:
    return [r for r in regions if r.encryption_keys_secret]


def _in_transit(endpoints: list[Endpoint]) -> Measure:
    statements = [
        Statement(text=f"{e.role} {e.name} ({e.kind}): {e.transport}.", source=[e.source])
        for e in endpoints
    ]
    return Measure(
        id="EncryptionInTransit",
        title="Encryption in transit to sources and destinations",
        applies=all(e.encrypted_in_transit is not False for e in endpoints),
        statements=statements,
    )


def _payloads(regions: list[Region]) -> Measure:
    statements = []
    for region in regions:
        if region.encryption_keys_secret:
            text = (
                "every Temporal payload, failure message and stack trace is encrypted with "
                f"AES-256-GCM under the newest key of Secret {region.encryption_keys_secret}; "
                "the operator, workers and erase command refuse a Temporal connection without "
                "TLS or an API key unless plain text is chosen explicitly."
            )
        else:
            text = "no encryption.keysSecretRef: the operator does not deploy the region."
        statements.append(
            Statement(
                text=f"Region {region.name}: {text}", source=[f"{region.source[0]}.encryption"]
            )
        )
    return Measure(
        id="PayloadEncryption",
        title="Encrypted workflow payloads (Temporal holds no readable contact data)",
        applies=len(_keyed(regions)) == len(regions),
        statements=statements,
    )


def _minimization(resource: ContactSync) -> Measure:
    kept = listing(list(resource.spec.fields))
    return Measure(
        id="DataMinimization",
        title="Data minimisation by an allowlist of fields",
        applies=True,
        statements=[
            Statement(
                text=(
                    f"Only {kept} (and what identity and consent need) are read from a source "
                    "record; the adapter drops the rest before anything is stored or sent."
                ),
                source=["spec.fields"],
            )
        ],
    )


def _pseudonyms(regions: list[Region]) -> Measure:
    return Measure(
        id="PseudonymizedAuditSubjects",
        title="Pseudonymised identities in the state store, audit trail and logs",
        applies=len(_keyed(regions)) == len(regions),
        statements=_per_region(
            _keyed(regions),
            "people are named by an HMAC pseudonym under the pseudonym key of Secret "
            "{region.encryption_keys_secret}, never by name, e-mail or telephone number.",
        ),
    )


def _audit_trail(regions: list[Region]) -> Measure:
    statements = [
        Statement(
            text=(
                f"Region {r.name}: an append-only audit trail, each record hash-linked to the "
                "previous one, in the region's state store; "
                "every run signs the chain's head with a key derived from Secret "
                f"{r.encryption_keys_secret} and publishes it in the status "
                "(regions[].lastSync.auditCheckpoint), checked by contactsync audit verify "
                "--checkpoint."
            ),
            source=[*r.store.source, *r.source],
        )
        for r in _keyed(regions)
    ]
    return Measure(
        id="TamperEvidentAuditTrail",
        title="Tamper-evident audit trail with signed checkpoints",
        applies=len(statements) == len(regions),
        statements=statements,
    )


def _secrets(resource: ContactSync, regions: list[Region]) -> Measure:
    statements = [
        Statement(
            text=(
                f"Region {r.name}: its workers mount {listing(r.secrets)}, as files, and only "
                f"once each is labelled {SECRET_USE_LABEL}={resource.name} by its owner; other "
                "regions' workers never see them. The region's configuration names Secrets, "
                "never their contents."
            ),
            source=r.source,
        )
        for r in regions
    ]
    return Measure(
        id="PerRegionSecrets",
        title="Credentials and keys per region, by Secret reference only",
        applies=True,
        statements=statements,
    )


def _egress(regions: list[Region]) -> Measure:
    statements = [
        Statement(
            text=(
                f"Region {r.name}: a NetworkPolicy lets the workers dial ports "
                f"{listing([str(p) for p in r.egress_ports])} (and Temporal, DNS) on the "
                "addresses the namespace's ContactSyncEgressPolicies allow; every address a "
                "host resolves to is checked before connecting, and link-local and cloud "
                "metadata addresses are refused."
            ),
            source=[f"{r.source[0]}.name", "spec.sources", "spec.destinations"],
        )
        for r in regions
    ]
    return Measure(
        id="NetworkEgress",
        title="Network egress limited to the servers the platform allows",
        applies=True,
        statements=statements,
    )


def _pods(regions: list[Region]) -> Measure:
    return Measure(
        id="HardenedWorkerPods",
        title="Least-privilege worker pods",
        applies=True,
        statements=_per_region(
            regions,
            "workers run as non-root UID 10001 on a read-only root filesystem, with no "
            "capabilities, the RuntimeDefault seccomp profile and no ServiceAccount token.",
        ),
    )


def _signed_requests(regions: list[Region]) -> Measure:
    return Measure(
        id="SignedDestructiveRequests",
        title="Purges, erasures and suppression lifts only on a signed request",
        applies=len(_keyed(regions)) == len(regions),
        statements=_per_region(
            _keyed(regions),
            "each request is signed (Ed25519) with requests.key of Secret "
            "{region.encryption_keys_secret}, which workers never mount; without that entry "
            "every purge, erasure and lift is refused.",
        ),
    )


def _mass_delete_guard(resource: ContactSync) -> Measure:
    guard = resource.spec.deletes.max_delete_percent
    return Measure(
        id="MassDeleteGuard",
        title="Guard against mass deletion",
        applies=guard < 100,
        statements=[
            Statement(
                text=(
                    f"A run that would delete more than {guard}% of a destination deletes "
                    "nothing; removals follow only a clean full read of every source."
                ),
                source=["spec.deletes.maxDeletePercent"],
            )
        ],
    )
