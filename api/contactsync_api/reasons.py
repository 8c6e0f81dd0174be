"""Every reason the operator writes into a ContactSync's conditions.

People search for these (``kubectl get events --field-selector reason=...``, alerts on the
``reason`` label), so a value never changes once released. The CRD keeps ``reason`` an open
string: a resource written by another version of the operator stays valid.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # How the conditions read when nothing is wrong, or while the operator gets there.
    RECONCILED = "Reconciled"
    WORKERS_NOT_READY = "WorkersNotReady"
    APPLYING = "Applying"
    WAITING_FOR_WORKERS = "WaitingForWorkers"
    IDLE = "Idle"
    AS_EXPECTED = "AsExpected"
    STALLED = "Stalled"

    # Problems the operator retries by itself.
    TEMPORAL_UNAVAILABLE = "TemporalUnavailable"
    APPLY_FAILED = "ApplyFailed"
    DELETE_FAILED = "DeleteFailed"
    SCHEDULE_FAILED = "ScheduleFailed"
    CLEANUP_BLOCKED = "CleanupBlocked"
    EGRESS_POLICY_UNREADABLE = "EgressPolicyUnreadable"

    # Problems a person must fix.
    INVALID_SPEC = "InvalidSpec"
    CHILD_OWNED_ELSEWHERE = "ChildOwnedElsewhere"
    ENCRYPTION_NOT_CONFIGURED = "EncryptionNotConfigured"
    ENCRYPTION_KEYS_MISSING = "EncryptionKeysMissing"
    ENCRYPTION_KEYS_INVALID = "EncryptionKeysInvalid"
    SECRET_MISSING = "SecretMissing"  # noqa: S105 - a reason, not a password
    SECRET_NOT_ALLOWED = "SecretNotAllowed"  # noqa: S105 - a reason
    EGRESS_NOT_ALLOWED = "EgressNotAllowed"
    REQUEST_KEY_MISSING = "RequestKeyMissing"
    REGION_PURGE_BLOCKED = "RegionPurgeBlocked"
    REGION_PURGE_FAILED = "RegionPurgeFailed"


# The reasons a condition has when no problem sets it; every other reason names a problem.
STATE_REASONS = frozenset(
    {
        Reason.RECONCILED,
        Reason.WORKERS_NOT_READY,
        Reason.APPLYING,
        Reason.WAITING_FOR_WORKERS,
        Reason.IDLE,
        Reason.AS_EXPECTED,
        Reason.STALLED,
    }
)
# Problems the operator retries by itself every reconcile; every other one needs a person
# (a Secret to create or label, a spec to fix, an object someone else owns).
RETRIED_BY_ITSELF = frozenset(
    {
        Reason.TEMPORAL_UNAVAILABLE,
        Reason.APPLY_FAILED,
        Reason.DELETE_FAILED,
        Reason.SCHEDULE_FAILED,
        Reason.CLEANUP_BLOCKED,
        Reason.EGRESS_POLICY_UNREADABLE,
    }
)
