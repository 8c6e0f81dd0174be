"""The tamper-evident audit trail: per scope, an append-only chain of hashed records.

Each record carries the hash of the one before it, and its own hash covers every field
including that link, so changing, removing or reordering a record breaks the chain at
that record. Records name people only by pseudonym (see ``pseudonym``), which is why an
erasure deletes a person's state rows and leaves the chain intact.

Hashing: ``hash = SHA-256(canonical JSON of {v, seq, at, scope, action, subject, source,
destination, detail, prev_hash})`` with sorted keys, no whitespace, UTF-8, ``at`` as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``. The first record links to :data:`GENESIS_HASH`.

Retention removes the oldest records as a prefix only. The hash of the last removed record
is kept as an anchor (``audit_anchors``), and verification starts from the newest anchor
instead of genesis; the purge itself is recorded in the chain with that hash, so the anchor
is chained too. A purge first verifies the prefix it removes and refuses a broken one,
so retention never launders tampering.

The store persists records (``store``); this module owns the format and the verification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

GENESIS_HASH = "0" * 64
FORMAT_VERSION = 1

# Detail holds counts, ids and reasons. Floats are refused: their text form is not canonical.
DetailValue = int | str | bool | None


class AuditAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    SKIPPED_NO_CONSENT = "skipped_no_consent"
    SKIPPED_SUPPRESSED = "skipped_suppressed"  # a record of someone an erasure suppressed
    QUARANTINED = "quarantined"
    VALUES_DROPPED = "values_dropped"  # detail: the item and how many of each field, no value
    ERASED = "erased"
    SUPPRESSED = "suppressed"  # identity pseudonyms put on the suppression list, by erasure
    SUPPRESSION_LIFTED = "suppression_lifted"  # by a signed lift request
    MASS_DELETE_BLOCKED = "mass_delete_blocked"
    RETENTION_PURGED = "retention_purged"  # state or data removed by the retention schedule
    AUDIT_PURGED = "audit_purged"  # old audit records removed; detail names the new anchor
    PSEUDONYM_KEY_ROTATED = "pseudonym_key_rotated"  # detail: old and new key fingerprints


@dataclass(frozen=True)
class AuditEvent:
    """What a caller appends; the store seals it into an :class:`AuditRecord`."""

    action: str
    subject: str | None = None  # a pseudonym, never an address or a name
    source: str | None = None
    destination: str | None = None
    detail: Mapping[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.detail.items():
            if not isinstance(key, str) or not isinstance(value, int | str | bool | None):
                raise TypeError(
                    f"audit detail {key!r}: values must be int, str, bool or None, "
                    f"not {type(value).__name__}"
                )
        # A private copy, so the caller mutating its dict cannot change a sealed record.
        object.__setattr__(self, "detail", dict(self.detail))
        object.__setattr__(self, "action", str(self.action))


@dataclass(frozen=True)
class AuditRecord:
    """One sealed link of a scope's chain, as stored."""

    scope: str
    seq: int
    at: datetime
    action: str
    subject: str | None
    source: str | None
    destination: str | None
    detail: Mapping[str, DetailValue]
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        """The hash the record's content calls for; differs from ``hash`` if it was altered."""
        return record_hash(
            scope=self.scope,
            seq=self.seq,
            at=self.at,
            action=self.action,
            subject=self.subject,
            source=self.source,
            destination=self.destination,
            detail=self.detail,
            prev_hash=self.prev_hash,
        )


@dataclass(frozen=True)
class ChainHead:
    """A position in a chain: the last sequence number and its hash (genesis: 0)."""

    seq: int = 0
    hash: str = GENESIS_HASH


@dataclass(frozen=True)
class AuditAnchor:
    """Where a purged chain continues: the last purged record's seq and hash."""

    seq: int
    hash: str
    purged_at: datetime
    records: int  # how many records that purge removed


def record_hash(
    *,
    scope: str,
    seq: int,
    at: datetime,
    action: str,
    subject: str | None,
    source: str | None,
    destination: str | None,
    detail: Mapping[str, DetailValue],
    prev_hash: str,
) -> str:
    canonical = json.dumps(
        {
            "v": FORMAT_VERSION,
            "seq": seq,
            "at": hash_time(at),
            "scope": scope,
            "action": action,
            "subject": subject,
            "source": source,
            "destination": destination,
            "detail": dict(detail),
            "prev_hash": prev_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def hash_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seal(
    scope: str, events: Sequence[AuditEvent], head: ChainHead, at: datetime
) -> list[AuditRecord]:
    """Chain ``events`` onto ``head``. The caller must hold the chain's lock."""
    records: list[AuditRecord] = []
    prev = head
    for event in events:
        unsealed = AuditRecord(
            scope=scope,
            seq=prev.seq + 1,
            at=at,
            action=event.action,
            subject=event.subject,
            source=event.source,
            destination=event.destination,
            detail=event.detail,
            prev_hash=prev.hash,
            hash="",
        )
        record = replace(unsealed, hash=unsealed.computed_hash())
        records.append(record)
        prev = ChainHead(record.seq, record.hash)
    return records


class BreakReason(StrEnum):
    GAP = "gap"  # a sequence number is missing (a record was deleted)
    PREV_LINK_MISMATCH = "prev_link_mismatch"  # prev_hash is not the previous record's hash
    HASH_MISMATCH = "hash_mismatch"  # the record's content does not match its hash
    TRUNCATED = "truncated"  # records up to the recorded head are missing
    HEAD_MISMATCH = "head_mismatch"  # the last record is not the one the head recorded


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int  # records verified (up to the break, if any)
    first_seq: int  # where verification started: the anchor's seq + 1, or 1
    last_seq: int  # the last record verified as intact
    broken_seq: int | None = None
    reason: BreakReason | None = None
    message: str = ""


class AuditChainBroken(RuntimeError):
    """The chain does not verify; raised where continuing would hide that (purge)."""

    def __init__(self, result: VerifyResult) -> None:
        super().__init__(result.message)
        self.result = result


class ChainVerifier:
    """Checks records one at a time, in seq order, from a starting head (anchor or genesis)."""

    def __init__(self, scope: str, start: ChainHead) -> None:
        self._scope = scope
        self._first = start.seq + 1
        self._last = start
        self._count = 0

    @property
    def last(self) -> ChainHead:
        return self._last

    def check(self, record: AuditRecord) -> VerifyResult | None:
        """None while intact; the break otherwise."""
        expected = self._last.seq + 1
        if record.seq != expected:
            missing = (
                f"{expected}" if record.seq == expected + 1 else f"{expected}..{record.seq - 1}"
            )
            return self._broken(expected, BreakReason.GAP, f"record(s) {missing} are missing")
        if record.prev_hash != self._last.hash:
            return self._broken(
                record.seq,
                BreakReason.PREV_LINK_MISMATCH,
                f"its prev_hash does not match the hash of seq {self._last.seq}",
            )
        if record.hash != record.computed_hash():
            return self._broken(
                record.seq, BreakReason.HASH_MISMATCH, "its content does not match its hash"
            )
        self._last = ChainHead(record.seq, record.hash)
        self._count += 1
        return None

    def finish(self, head: ChainHead) -> VerifyResult:
        """The result once every record up to ``head`` was checked."""
        if self._last.seq < head.seq:
            return self._broken(
                self._last.seq + 1,
                BreakReason.TRUNCATED,
                f"records {self._last.seq + 1}..{head.seq} are missing from the end",
            )
        if self._last != head:
            return self._broken(
                head.seq, BreakReason.HEAD_MISMATCH, "the chain head records another hash"
            )
        return VerifyResult(
            ok=True,
            count=self._count,
            first_seq=self._first,
            last_seq=self._last.seq,
            message=(
                f"audit chain of {self._scope!r} is intact: {self._count} record(s), "
                f"seq {self._first}..{self._last.seq}"
            ),
        )

    def _broken(self, seq: int, reason: BreakReason, why: str) -> VerifyResult:
        return VerifyResult(
            ok=False,
            count=self._count,
            first_seq=self._first,
            last_seq=self._last.seq,
            broken_seq=seq,
            reason=reason,
            message=f"audit chain of {self._scope!r} is broken at seq {seq} ({reason}): {why}",
        )


class AuditReader(Protocol):
    """The part of the state store that verification reads."""

    async def audit_anchor(self, scope: str) -> AuditAnchor | None: ...

    async def audit_head(self, scope: str) -> ChainHead: ...

    async def audit_records(
        self, scope: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[AuditRecord]: ...


async def verify_chain(store: AuditReader, scope: str, *, page_size: int = 1000) -> VerifyResult:
    """Walk ``scope``'s chain from its anchor to its head; the first break, or OK and the count.

    What ``contactsync audit verify`` runs. Records appended while it runs lie past the head
    read at the start and are left for the next run.
    """
    anchor = await store.audit_anchor(scope)
    head = await store.audit_head(scope)
    start = ChainHead(anchor.seq, anchor.hash) if anchor else ChainHead()
    verifier = ChainVerifier(scope, start)
    after = start.seq
    while after < head.seq:
        page = [
            r
            for r in await store.audit_records(scope, after_seq=after, limit=page_size)
            if r.seq <= head.seq
        ]
        if not page:
            break
        for record in page:
            if (broken := verifier.check(record)) is not None:
                return broken
        after = page[-1].seq
    return verifier.finish(head)
