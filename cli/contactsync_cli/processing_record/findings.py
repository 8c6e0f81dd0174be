"""What a reviewer should look at: settings weaker than ContactSync's defaults (warnings) and
what the spec cannot answer (questions for the controller or the DPO)."""

from __future__ import annotations

from contactsync_api.fields import ContactField
from contactsync_api.manifest import ContactSync
from contactsync_api.spec import ConsentMode, DeletionPolicy
from contactsync_cli.processing_record.model import (
    Endpoint,
    Finding,
    Severity,
    Transfers,
)
from contactsync_cli.processing_record.regions import (
    shared_secrets,
    shared_servers,
    shared_temporal,
)
from contactsync_cli.processing_record.wording import (
    CONTROLLER_ANNOTATION,
    DPO_ANNOTATION,
    annotation_path,
    listing,
)
from contactsync_operator.overrides import FORCE_DELETE, SKIP_PURGE, is_set


def findings(
    resource: ContactSync, endpoints: list[Endpoint], transfers: Transfers
) -> list[Finding]:
    return [
        *_insecure(resource, endpoints),
        *_identity(resource),
        *_consent(resource),
        *_regions(resource, endpoints, transfers),
        *_deletion(resource),
    ]


def _insecure(resource: ContactSync, endpoints: list[Endpoint]) -> list[Finding]:
    found = []
    for endpoint in endpoints:
        if not endpoint.allow_insecure:
            continue
        if endpoint.encrypted_in_transit:
            effect = (
                "unused while the connection is encrypted, but a later edit to a clear-text "
                "URL would no longer be refused"
            )
        else:
            effect = f"transport: {endpoint.transport}"
        found.append(
            Finding(
                code="AllowInsecure",
                severity=Severity.WARNING,
                message=(
                    f"{endpoint.role} {endpoint.name} ({endpoint.kind}, {endpoint.location}) "
                    f"sets allowInsecure, for development only; {effect}."
                ),
                source=[f"{endpoint.source}.allowInsecure"],
            )
        )
    for index, region in enumerate(resource.spec.regions):
        if region.store and region.store.postgres and region.store.postgres.allow_insecure:
            found.append(
                Finding(
                    code="AllowInsecure",
                    severity=Severity.WARNING,
                    message=(
                        f"the state store of region {region.name} sets allowInsecure: its "
                        "connection string is used as given, TLS only if it asks for it. "
                        "For development only."
                    ),
                    source=[f"spec.regions[{index}].store.postgres.allowInsecure"],
                )
            )
    return found


def _identity(resource: ContactSync) -> list[Finding]:
    found = []
    for key, who in ((CONTROLLER_ANNOTATION, "controller"), (DPO_ANNOTATION, "DPO contact")):
        if not resource.annotations.get(key, "").strip():
            found.append(
                Finding(
                    code="NotStated",
                    severity=Severity.QUESTION,
                    message=f"the {who} is not stated: annotate the ContactSync with {key}.",
                    source=[annotation_path(key)],
                )
            )
    return found


def _consent(resource: ContactSync) -> list[Finding]:
    spec = resource.spec
    found = []
    if spec.consent.mode is ConsentMode.NOT_REQUIRED:
        found.append(
            Finding(
                code="ConsentNotRequired",
                severity=Severity.QUESTION,
                message=(
                    "consent is not required: which lawful basis of Art. 6(1) GDPR covers "
                    "writing these contacts without it?"
                ),
                source=["spec.consent.mode"],
            )
        )
    if ContactField.NOTE in spec.fields:
        found.append(
            Finding(
                code="FreeTextField",
                severity=Severity.QUESTION,
                message=(
                    "note is kept: free text can hold anything, special categories of data "
                    "(Art. 9 GDPR) included. Is it needed for the purpose?"
                ),
                source=["spec.fields"],
            )
        )
    return found


def _regions(
    resource: ContactSync, endpoints: list[Endpoint], transfers: Transfers
) -> list[Finding]:
    found = [
        Finding(
            code="CrossRegionFlow",
            severity=Severity.WARNING,
            message=(
                f"source {flow.source} is read in {flow.source_region} and written by "
                f"destination {flow.destination} in {flow.destination_region}: contacts leave "
                "the region they were read in."
            ),
            source=["spec.destinations[].sources", "spec.sources[].region"],
        )
        for flow in transfers.flows
        if flow.crosses_regions
    ]
    for index, region in enumerate(resource.spec.regions):
        if region.encryption is None:
            found.append(
                Finding(
                    code="EncryptionNotConfigured",
                    severity=Severity.WARNING,
                    message=(
                        f"region {region.name} names no payload keys: the operator does not "
                        "deploy it (only local mode runs it, with keys it makes for the run)."
                    ),
                    source=[f"spec.regions[{index}].encryption"],
                )
            )
    for host, regions in shared_servers(endpoints).items():
        found.append(
            Finding(
                code="ServerSharedAcrossRegions",
                severity=Severity.QUESTION,
                message=(
                    f"{host} is reached from regions {listing(regions)}: contacts of each meet "
                    "on one server. Where does it stand?"
                ),
                source=["spec.sources[].region", "spec.destinations[].region"],
            )
        )
    keys = {r.encryption_keys_secret for r in transfers.regions}
    for secret, regions in shared_secrets(transfers.regions).items():
        what = (
            "payload keys: the workers of each can decrypt the others' payloads"
            if secret in keys
            else "credentials"
        )
        found.append(
            Finding(
                code="SecretSharedAcrossRegions",
                severity=Severity.WARNING if secret in keys else Severity.QUESTION,
                message=f"Secret {secret} is mounted in regions {listing(regions)} ({what}).",
                source=["spec.regions", "spec.sources", "spec.destinations"],
            )
        )
    for place, regions in shared_temporal(transfers.regions).items():
        found.append(
            Finding(
                code="TemporalSharedAcrossRegions",
                severity=Severity.QUESTION,
                message=(
                    f"regions {listing(regions)} use one Temporal cluster ({place}), whatever "
                    "their namespaces: their encrypted payloads and workflow histories are "
                    "stored wherever its database runs."
                ),
                source=["spec.regions[].temporal"],
            )
        )
    return found


def _deletion(resource: ContactSync) -> list[Finding]:
    spec = resource.spec
    found = []
    if not spec.deletes.propagate:
        found.append(
            Finding(
                code="DeletesNotPropagated",
                severity=Severity.QUESTION,
                message=(
                    "contacts removed at their sources are never deleted downstream: which "
                    "retention period applies to them in the destinations?"
                ),
                source=["spec.deletes.propagate"],
            )
        )
    if spec.deletes.max_delete_percent >= 100:
        found.append(
            Finding(
                code="MassDeleteGuardOff",
                severity=Severity.WARNING,
                message=(
                    "maxDeletePercent: 100 turns the mass-delete guard off: a source that "
                    "wrongly looks empty empties the destinations."
                ),
                source=["spec.deletes.maxDeletePercent"],
            )
        )
    if spec.deletion_policy is DeletionPolicy.PURGE:
        for key in (SKIP_PURGE, FORCE_DELETE):
            if is_set(resource.annotations, key):
                found.append(
                    Finding(
                        code="PurgeOverridden",
                        severity=Severity.WARNING,
                        message=(
                            f"{key}=true: deleting this ContactSync will not purge what it "
                            "wrote, whatever deletionPolicy says."
                        ),
                        source=[annotation_path(key), "spec.deletionPolicy"],
                    )
                )
    return found
