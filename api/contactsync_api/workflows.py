"""The workflows' names and the inputs and outputs of workflows and activities.

These dataclasses cross the Temporal boundary as JSON: every field added later gets a
default, so recorded histories still decode.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

SYNC_WORKFLOW = "ContactSyncWorkflow"
RETENTION_WORKFLOW = "RetentionWorkflow"
PURGE_WORKFLOW = "PurgeWorkflow"


@dataclass(frozen=True)
class Authorization:
    """A signature of who asked for a destructive run (see contactsync_worker.authorization):
    Ed25519 over the request, its subject and workflow id, valid until ``not_after``."""

    not_after: int  # Unix seconds
    signature: str  # base64


@dataclass(frozen=True)
class RegionRunRequest:
    """What a schedule starts: one region of one ContactSync.

    The worker reads the region's configuration from its own mounts; the request only
    says which run this is, so no spec detail (and no contact data) enters history,
    and a spec edit that does not touch the schedule leaves the schedule alone.
    """

    namespace: str
    contact_sync: str
    region: str
    # Purges, erasures and lifts of a suppression only; scheduled runs destroy nothing a
    # source did not.
    authorization: Authorization | None = None


ERASURE_WORKFLOW = "ErasureWorkflow"
SUPPRESSION_LIFT_WORKFLOW = "SuppressionLiftWorkflow"


@dataclass(frozen=True)
class SyncSummary:
    """What a sync run reports: counts only, never contact data."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped_no_consent: int = 0
    # Records of people an erasure suppressed: read from a source, written nowhere.
    skipped_suppressed: int = 0
    quarantined: int = 0
    held: int = 0  # gone from the sources, kept for the removedContacts grace period
    pages: int = 0
    # The signed audit checkpoint at the end of the run (contactsync_worker.checkpoints).
    audit_checkpoint: str = ""
    # Values that were not what their field says, dropped (spec.values.invalid: Drop).
    dropped_emails: int = 0
    dropped_phones: int = 0
    # Of the quarantined: records set aside for such values (invalid: Quarantine), and
    # records with no identity value and no name.
    quarantined_invalid_values: int = 0
    quarantined_no_identity: int = 0

    @property
    def dropped_values(self) -> int:
        """Emails and phones dropped as not what their field says."""
        return self.dropped_emails + self.dropped_phones

    def plus(self, other: SyncSummary) -> SyncSummary:
        counts = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name != "audit_checkpoint"
        }
        return SyncSummary(
            **counts, audit_checkpoint=other.audit_checkpoint or self.audit_checkpoint
        )


@dataclass(frozen=True)
class SourceFailure:
    """Why a source's step failed: the type its page failed with (an ErrorType's value) and
    the worker's message, which names no contact."""

    source: str
    type: str
    message: str


@dataclass(frozen=True)
class SyncProgress:
    """Where a sync run stands; carried across continue-as-new so history stays bounded."""

    run_id: str
    source_index: int = 0
    cursor: str | None = None
    totals: SyncSummary = SyncSummary()
    completed_sources: tuple[str, ...] = ()
    failed_sources: tuple[str, ...] = ()
    failures: tuple[SourceFailure, ...] = ()  # why each failed source failed
    source_is_snapshot: bool = False  # the current source's run so far lists it whole
    source_quarantined: bool = False  # and set records aside, so absence proves nothing
    source_pages: int = 0  # pages of the current source read so far in this run
    # When the run started (ISO 8601, the workflow's clock): consent is judged at this time on
    # every page, so a grant that ends while the run goes on ends for none of its pages.
    started_at: str = ""


@dataclass(frozen=True)
class SyncInput:
    """The sync workflow's input: the schedule's request, and progress when continued."""

    request: RegionRunRequest
    progress: SyncProgress | None = None


@dataclass(frozen=True)
class RegionRunPlan:
    """What the activity that reads the region's configuration tells the workflow."""

    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    # How hard to try an unreachable source before its step fails (worker settings).
    source_attempts: int = 8
    source_retry_seconds: float = 2.0
    # A source that is still not done after this many pages in one run fails its step: a
    # server must not keep a run paging forever (worker settings).
    max_source_pages: int = 20_000
    # One page activity goes on from page to page this long (worker settings; 0: one page).
    page_budget_seconds: float = 0.0
    # How many page activities may work one source's listing at once, on any of the
    # region's workers (worker settings; 1: one after another).
    page_concurrency: int = 1


@dataclass(frozen=True)
class PageInput:
    request: RegionRunRequest
    run_id: str
    source: str
    cursor: str | None = None
    deleted_before: int = 0  # deletions earlier in this run: the guard counts them too
    started_at: str = ""  # SyncProgress.started_at; empty: the activity's own clock
    # Go on to the next page while this many seconds have not passed (0: one page), so
    # history grows with a sync's duration rather than with its pages; at most max_pages
    # (0: no bound but the budget).
    budget_seconds: float = 0.0
    max_pages: int = 0
    # Split the rest of a listing into this many slices after its first page (sources that
    # can address their pages; 1: go on page by page).
    fan_out: int = 1
    # A page of a slice: the run's deletions are counted in the state store, which every
    # slice shares, and the last page hands its checkpoint back instead of committing it.
    in_slice: bool = False


@dataclass(frozen=True)
class PageSlice:
    """Pages of one listing that one activity (and its successors) works through: where
    they start, and how many."""

    cursor: str
    pages: int


@dataclass(frozen=True)
class PageResult:
    summary: SyncSummary
    cursor: str | None
    complete: bool
    snapshot: bool = True  # the run lists the whole source, so unseen items were removed
    slices: tuple[PageSlice, ...] = ()  # the rest of the listing, to be worked at once
    checkpoint: str = ""  # a slice's last page: commit it once every slice is done


@dataclass(frozen=True)
class CheckpointInput:
    """The sync token of a source whose pages were worked in slices, to commit once all
    of them are written."""

    request: RegionRunRequest
    source: str
    checkpoint: str


@dataclass(frozen=True)
class RemovalsInput:
    request: RegionRunRequest
    run_id: str
    completed_sources: tuple[str, ...]  # snapshot sources seen whole in this run
    deleted_before: int = 0  # deletions the run's pages made (merges): the guard counts them


@dataclass(frozen=True)
class RemovalsResult:
    summary: SyncSummary
    checkpoint: str = ""  # the signed audit checkpoint once the run's records are in


@dataclass(frozen=True)
class RetentionResult:
    contacts_deleted: int = 0
    audit_records_purged: int = 0


@dataclass(frozen=True)
class SubjectIds:
    """How a request names a data subject: any of an email address, a phone number, a uid."""

    email: str | None = None
    phone: str | None = None
    uid: str | None = None


@dataclass(frozen=True)
class SubjectRequest:
    """A request about one data subject, named by email, phone or uid. The values are
    encrypted by the payload codec in history; the worker pseudonymizes them before it
    stores or audits anything."""

    request: RegionRunRequest
    email: str | None = None
    uid: str | None = None
    phone: str | None = None

    @property
    def subject(self) -> SubjectIds:
        return SubjectIds(email=self.email, phone=self.phone, uid=self.uid)


@dataclass(frozen=True)
class ErasureRequest(SubjectRequest):
    """Erase one data subject and suppress them in later syncs."""


@dataclass(frozen=True)
class ErasureResult:
    contacts_erased: int = 0
    destination_deletes: int = 0
    identifiers_suppressed: int = 0  # entries the erasure added to the suppression list


@dataclass(frozen=True)
class SuppressionLiftRequest(SubjectRequest):
    """Lift the suppression that erasures of a subject left, named as an erasure names them.
    Every erasure that suppressed any of the values is lifted whole."""


@dataclass(frozen=True)
class SuppressionLiftResult:
    erasures_lifted: int = 0
    identifiers_lifted: int = 0


@dataclass(frozen=True)
class PurgeResult:
    destination_deletes: int = 0
