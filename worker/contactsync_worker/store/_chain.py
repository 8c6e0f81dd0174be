"""Queries for the audit chain: append under the head lock, read, purge to an anchor."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from contactsync_worker.audit import (
    GENESIS_HASH,
    AuditAction,
    AuditAnchor,
    AuditChainBroken,
    AuditEvent,
    AuditRecord,
    ChainHead,
    ChainVerifier,
    seal,
)
from contactsync_worker.store import AuditPurge
from contactsync_worker.store._sql import Row, Tx, utc

_PAGE = 1000
_HEAD = "SELECT seq, hash FROM audit_head WHERE scope = ?"
_HEAD_FOR_UPDATE = "SELECT seq, hash FROM audit_head WHERE scope = ? FOR UPDATE"


def _record(row: Row) -> AuditRecord:
    scope, seq, at, action, subject, source, destination, detail, prev_hash, digest = row
    return AuditRecord(
        scope=scope,
        seq=int(seq),
        at=utc(at),
        action=action,
        subject=subject,
        source=source,
        destination=destination,
        detail=json.loads(detail),
        prev_hash=prev_hash,
        hash=digest,
    )


async def head(tx: Tx, scope: str, *, lock: bool = False) -> ChainHead:
    if lock:
        # The row must exist to be locked; a second writer's insert waits on the first's
        # (unique key) and then does nothing, so even the very first append cannot fork.
        await tx.execute(
            "INSERT INTO audit_head (scope, seq, hash) VALUES (?, 0, ?) ON CONFLICT DO NOTHING",
            (scope, GENESIS_HASH),
        )
    query = _HEAD_FOR_UPDATE if lock and tx.locks_rows else _HEAD
    rows = await tx.fetchall(query, (scope,))
    return ChainHead(int(rows[0][0]), rows[0][1]) if rows else ChainHead()


async def append(
    tx: Tx, scope: str, events: Sequence[AuditEvent], now: datetime
) -> list[AuditRecord]:
    if not events:
        return []
    return await _append_locked(tx, scope, events, await head(tx, scope, lock=True), now)


async def _append_locked(
    tx: Tx, scope: str, events: Sequence[AuditEvent], last: ChainHead, now: datetime
) -> list[AuditRecord]:
    records = seal(scope, events, last, now)
    await tx.executemany(
        """INSERT INTO audit_log
             (scope, seq, at, action, subject, source, destination, detail, prev_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (
                r.scope,
                r.seq,
                r.at,
                r.action,
                r.subject,
                r.source,
                r.destination,
                json.dumps(dict(r.detail), sort_keys=True, ensure_ascii=False),
                r.prev_hash,
                r.hash,
            )
            for r in records
        ],
    )
    await tx.execute(
        "UPDATE audit_head SET seq = ?, hash = ? WHERE scope = ?",
        (records[-1].seq, records[-1].hash, scope),
    )
    return records


async def records(tx: Tx, scope: str, after_seq: int, limit: int) -> list[AuditRecord]:
    rows = await tx.fetchall(
        """SELECT scope, seq, at, action, subject, source, destination, detail, prev_hash, hash
           FROM audit_log WHERE scope = ? AND seq > ? ORDER BY seq LIMIT ?""",
        (scope, after_seq, limit),
    )
    return [_record(row) for row in rows]


async def anchor(tx: Tx, scope: str) -> AuditAnchor | None:
    rows = await tx.fetchall(
        """SELECT seq, hash, purged_at, records FROM audit_anchors WHERE scope = ?
           ORDER BY seq DESC LIMIT 1""",
        (scope,),
    )
    if not rows:
        return None
    seq, digest, purged_at, count = rows[0]
    return AuditAnchor(seq=int(seq), hash=digest, purged_at=utc(purged_at), records=int(count))


async def purge(tx: Tx, scope: str, cutoff: datetime, now: datetime) -> AuditPurge:
    last = await head(tx, scope, lock=True)  # no append may interleave with the purge
    previous = await anchor(tx, scope)
    start = ChainHead(previous.seq, previous.hash) if previous else ChainHead()
    # Only a prefix can go, or the rest would not verify: stop before the first record
    # that is still within retention, even if a later one looks older (clock skew).
    rows = await tx.fetchall(
        "SELECT min(seq) FROM audit_log WHERE scope = ? AND seq > ? AND at >= ?",
        (scope, start.seq, cutoff),
    )
    through = (int(rows[0][0]) if rows[0][0] is not None else last.seq + 1) - 1
    if through <= start.seq:
        return AuditPurge(purged=0, anchor=previous, record=None)

    final = await _verified_segment_end(tx, scope, start, through)
    await tx.execute("DELETE FROM audit_log WHERE scope = ? AND seq <= ?", (scope, through))
    count = through - start.seq
    await tx.execute(
        """INSERT INTO audit_anchors (scope, seq, hash, purged_at, records)
           VALUES (?, ?, ?, ?, ?)""",
        (scope, final.seq, final.hash, now, count),
    )
    event = AuditEvent(
        AuditAction.AUDIT_PURGED,
        detail={"records": count, "through_seq": final.seq, "anchor_hash": final.hash},
    )
    (record,) = await _append_locked(tx, scope, [event], last, now)
    return AuditPurge(
        purged=count,
        anchor=AuditAnchor(seq=final.seq, hash=final.hash, purged_at=now, records=count),
        record=record,
    )


async def _verified_segment_end(tx: Tx, scope: str, start: ChainHead, through: int) -> ChainHead:
    """Verify records (start, through]; the last one's position, or AuditChainBroken."""
    verifier = ChainVerifier(scope, start)
    after = start.seq
    while after < through:
        page = [r for r in await records(tx, scope, after, _PAGE) if r.seq <= through]
        if not page:
            break
        for record in page:
            if (broken := verifier.check(record)) is not None:
                raise AuditChainBroken(broken)
        after = page[-1].seq
    if verifier.last.seq != through:
        raise AuditChainBroken(verifier.finish(ChainHead(through, "")))
    return verifier.last
