"""Build the record of processing activities of one ContactSync from its typed spec.

Pure: it reads the manifest's model and asks the operator's own functions which Secrets a
region mounts and which ports its workers dial, so the record says what gets deployed. It
reads no Secret and talks to no server.
"""

from __future__ import annotations

from datetime import timedelta

from contactsync_api.durations import to_timedelta
from contactsync_api.fields import ContactField
from contactsync_api.manifest import ContactSync
from contactsync_api.source_consent import source_consent
from contactsync_api.spec import ConsentMode, ContactSyncSpec, DestinationSpec, SourceSpec
from contactsync_cli.processing_record import endpoints
from contactsync_cli.processing_record.findings import findings
from contactsync_cli.processing_record.measures import security_measures
from contactsync_cli.processing_record.model import (
    Endpoint,
    Flow,
    Identification,
    PersonalData,
    PersonalField,
    ProcessingRecord,
    Purposes,
    Retention,
    Role,
    Stated,
    Statement,
    Transfers,
)
from contactsync_cli.processing_record.regions import region_statements, regions
from contactsync_cli.processing_record.wording import (
    CONTROLLER_ANNOTATION,
    DATA_SUBJECTS_ANNOTATION,
    DPO_ANNOTATION,
    FIELD_NAMES,
    IDENTITY_NAMES,
    PURPOSE_ANNOTATION,
    REPRESENTATIVE_ANNOTATION,
    annotation_path,
    default_note,
    listing,
)


def build_record(resource: ContactSync) -> ProcessingRecord:
    spec = resource.spec
    sources = [_source(index, s) for index, s in enumerate(spec.sources)]
    destinations = [_destination(index, d, spec) for index, d in enumerate(spec.destinations)]
    transfers = _transfers(resource, destinations)
    return ProcessingRecord(
        contact_sync=_identification(resource),
        purposes=_purposes(resource),
        personal_data=_personal_data(resource),
        sources=sources,
        destinations=destinations,
        transfers=transfers,
        retention=_retention(spec),
        security_measures=security_measures(resource, [*sources, *destinations], transfers),
        findings=findings(resource, [*sources, *destinations], transfers),
    )


def _stated(resource: ContactSync, key: str) -> Stated:
    value = resource.annotations.get(key, "").strip()
    return Stated(value=value or None, source=annotation_path(key))


def _identification(resource: ContactSync) -> Identification:
    return Identification(
        namespace=resource.namespace,
        name=resource.name,
        controller=_stated(resource, CONTROLLER_ANNOTATION),
        representative=_stated(resource, REPRESENTATIVE_ANNOTATION),
        dpo_contact=_stated(resource, DPO_ANNOTATION),
        source=["metadata.namespace", "metadata.name"],
    )


def _purposes(resource: ContactSync) -> Purposes:
    consent = resource.spec.consent
    mode = ["spec.consent.mode"]
    if consent.mode is ConsentMode.NOT_REQUIRED:
        statements = [
            Statement(
                text=(
                    "Consent is NOT required (consent.mode: NotRequired): every contact the "
                    "sources hold is written, whatever its consent property says. The spec "
                    "states that another lawful basis covers the processing, not which one."
                ),
                source=mode,
            )
        ]
        if consent.purposes:
            statements.append(
                Statement(
                    text=(
                        f"The purposes listed ({listing(consent.purposes)}) are not checked "
                        "under NotRequired."
                    ),
                    source=["spec.consent.purposes"],
                )
            )
        questions = [
            "Which lawful basis of Art. 6(1) GDPR other than consent covers this processing "
            "(a contract, a legal obligation, legitimate interests with their balancing test)? "
            "The spec does not say; record it here.",
        ]
    else:
        statements = [
            _consent_rule(resource),
            *_source_consent(resource),
            _consent_withdrawal(),
        ]
        questions = []
    return Purposes(
        description=_stated(resource, PURPOSE_ANNOTATION),
        consent_mode=str(consent.mode),
        consent_property=consent.property,
        purposes=list(consent.purposes),
        statements=statements,
        questions_for_dpo=questions,
    )


def _consent_rule(resource: ContactSync) -> Statement:
    consent = resource.spec.consent
    note = default_note(resource.spec, "consent", "mode")
    where = f"its consent property {consent.property}{default_note(consent, 'property')}"
    if consent.purposes:
        asked = f"grants every one of the purposes {listing(consent.purposes)} by name"
    else:
        words = listing(list(consent.granted_values))
        asked = f"grants consent as a whole (one of the words {words})"
    return Statement(
        text=f"Consent is required{note}: a contact is written only while {where} {asked}.",
        source=["spec.consent.mode", "spec.consent.property", "spec.consent.purposes"],
    )


def _source_consent(resource: ContactSync) -> list[Statement]:
    """A statement for each source that records consent in a place or words of its own."""
    statements = []
    for index, source in enumerate(resource.spec.sources):
        if source.consent is None:
            continue
        own = source_consent(resource.spec.consent, source.consent)
        statements.append(
            Statement(
                text=(
                    f"Source {source.name} records consent in its own {own.property}, "
                    f"granted by the words {listing(list(own.granted_values))}; the same "
                    "purposes are asked of it."
                ),
                source=[f"spec.sources[{index}].consent"],
            )
        )
    return statements


def _consent_withdrawal() -> Statement:
    return Statement(
        text=(
            "A contact written before whose consent is withdrawn, expired or gone is removed "
            "from every destination by the first run that reads it so, whatever "
            "retention.removedContacts and deletes.propagate say (within the mass-delete guard)."
        ),
        source=["spec.consent.mode"],
    )


def _personal_data(resource: ContactSync) -> PersonalData:
    spec = resource.spec
    kept = [PersonalField(field=str(f), name=FIELD_NAMES[f]) for f in spec.fields]
    dropped = [
        PersonalField(field=str(f), name=FIELD_NAMES[f])
        for f in ContactField
        if f not in spec.fields
    ]
    identity = [PersonalField(field=str(k), name=IDENTITY_NAMES[k]) for k in spec.identity]
    source_names = listing([f"{s.name} ({s.kind.key})" for s in spec.sources])
    return PersonalData(
        data_subjects=_stated(resource, DATA_SUBJECTS_ANNOTATION),
        data_subjects_inferred=Statement(
            text=f"The people whose contact records the sources hold: {source_names}.",
            source=["spec.sources"],
        ),
        kept=kept,
        identity_keys=identity,
        also_read=_also_read(spec),
        dropped=dropped,
        source=["spec.fields", "spec.identity"],
    )


def _also_read(spec: ContactSyncSpec) -> list[Statement]:
    read = [
        Statement(
            text=(
                f"Identity values ({listing(list(spec.identity))}) are read to recognise one "
                "person across sources; the region's state store keeps them only as keyed "
                "pseudonyms (HMAC), and destinations get them only where spec.fields lists them."
            ),
            source=["spec.identity", "spec.fields"],
        ),
        Statement(
            text=(
                "Each record's uid (a vCard's UID, the LDAP uid attribute, a file's uid column "
                "or key) is read whatever spec.identity says, so that an erasure finds every "
                "record of a person; unless uid is an identity key it is neither merged on nor "
                "written, and the store keeps its pseudonym, never the uid."
            ),
            source=["spec.identity"],
        ),
    ]
    if spec.consent.mode is ConsentMode.REQUIRED:
        read.append(
            Statement(
                text=(
                    f"The consent property {spec.consent.property} is read to decide whether a "
                    "contact may be written; it is not written to destinations."
                ),
                source=["spec.consent.property"],
            )
        )
    read.append(
        Statement(
            text=(
                "Everything else a source record holds (the fields listed as dropped, and any "
                "other property, attribute, column or key) is dropped inside the source "
                "adapter: it is not parsed into the contact, stored, sent to Temporal or written."
            ),
            source=["spec.fields"],
        )
    )
    return read


def _endpoint(
    choice: SourceSpec | DestinationSpec, role: Role, path: str, receives: list[str]
) -> Endpoint:
    endpoint = choice.endpoint
    return Endpoint(
        name=choice.name,
        role=role,
        kind=choice.kind.key,
        region=choice.region,
        host=endpoints.host(endpoint),
        location=endpoints.location(endpoint),
        transport=endpoints.transport(endpoint),
        encrypted_in_transit=endpoints.encrypted_in_transit(endpoint),
        allow_insecure=endpoints.allows_insecure(endpoint),
        secrets=endpoints.secret_names(endpoint),
        receives_from=receives,
        source=f"{path}.{choice.kind.key}",
    )


def _source(index: int, source: SourceSpec) -> Endpoint:
    return _endpoint(source, Role.SOURCE, f"spec.sources[{index}]", [])


def _destination(index: int, destination: DestinationSpec, spec: ContactSyncSpec) -> Endpoint:
    # As the worker merges: the sources named, or else every source of the region.
    receives = list(
        destination.sources or [s.name for s in spec.sources if s.region == destination.region]
    )
    return _endpoint(destination, Role.DESTINATION, f"spec.destinations[{index}]", receives)


def _transfers(resource: ContactSync, destinations: list[Endpoint]) -> Transfers:
    source_regions = {s.name: s.region for s in resource.spec.sources}
    flows = [
        Flow(
            source=name,
            source_region=source_regions.get(name, "unknown"),
            destination=d.name,
            destination_region=d.region,
        )
        for d in destinations
        for name in d.receives_from
    ]
    return Transfers(
        regions=regions(resource),
        flows=flows,
        crosses_regions=any(flow.crosses_regions for flow in flows),
        statements=region_statements(resource, flows),
    )


def _retention(spec: ContactSyncSpec) -> Retention:
    retention, deletes = spec.retention, spec.deletes
    removed = f"{retention.removed_contacts}{default_note(spec, 'retention', 'removed_contacts')}"
    audit = f"{retention.audit_log}{default_note(spec, 'retention', 'audit_log')}"
    history = f"{retention.workflow_history}{default_note(spec, 'retention', 'workflow_history')}"
    if deletes.propagate:
        grace = (
            f"by the run that finds it gone: removedContacts is {removed}"
            if to_timedelta(retention.removed_contacts) == timedelta(0)
            else f"once it has been gone for {removed}"
        )
        gone = (
            "A contact gone from every source (as a clean full read shows) is deleted from "
            f"the destinations {grace}."
        )
    else:
        gone = (
            "Deletions are NOT propagated (deletes.propagate: false): a contact gone from its "
            "sources stays in the destinations; only a refused consent or an erasure removes it."
        )
    guard = deletes.max_delete_percent
    statements = [
        Statement(text=gone, source=["spec.deletes.propagate", "spec.retention.removedContacts"]),
        Statement(
            text=(
                f"Mass-delete guard{default_note(spec, 'deletes', 'max_delete_percent')}: a run "
                f"that would delete more than {guard}% of a destination deletes nothing and "
                "fails with MassDeleteBlocked."
            ),
            source=["spec.deletes.maxDeletePercent"],
        ),
        Statement(
            text=(f"Audit records older than {audit} are purged by a daily retention workflow."),
            source=["spec.retention.auditLog"],
        ),
        Statement(
            text=(
                f"Temporal workflow history: the namespace's retention is expected to be "
                f"{history}; the operator reports a mismatch. Histories hold encrypted payloads "
                "and names and counts only."
            ),
            source=["spec.retention.workflowHistory"],
        ),
        Statement(
            text=(
                "The state store keeps sync tokens, content hashes, contact ids, identity "
                "pseudonyms and the suppression list (no contact content) for as long as the "
                "ContactSync exists."
            ),
            source=["spec.regions[].store"],
        ),
        _deletion_policy(spec),
        Statement(
            text=(
                "Erasure (Art. 17): `contactsync erase --email|--phone|--uid` removes one person "
                "from every destination of a region and keeps them out of later syncs until a "
                "signed `contactsync suppression lift`; it needs requests.key in the region's "
                "keys Secret, which the spec cannot show."
            ),
            source=["spec.regions[].encryption.keysSecretRef"],
        ),
    ]
    return Retention(
        removed_contacts=retention.removed_contacts,
        audit_log=retention.audit_log,
        workflow_history=retention.workflow_history,
        propagate_deletes=deletes.propagate,
        max_delete_percent=guard,
        deletion_policy=str(spec.deletion_policy),
        statements=statements,
    )


def _deletion_policy(spec: ContactSyncSpec) -> Statement:
    if spec.deletion_policy == "Purge":
        text = (
            "deletionPolicy: Purge: deleting the ContactSync, or dropping a region from it, "
            "first deletes from the destinations everything it wrote there."
        )
    else:
        text = (
            f"deletionPolicy: Retain{default_note(spec, 'deletion_policy')}: deleting the "
            "ContactSync leaves what it wrote in the destinations, for as long as their "
            "owners keep it."
        )
    return Statement(text=text, source=["spec.deletionPolicy"])
