"""Queries for what a scope knows about its sources: checkpoints and source items."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from contactsync_worker.store import (
    PENDING_HASH,
    ItemKey,
    ItemState,
    ItemWrite,
    PseudonymKeyMismatch,
)
from contactsync_worker.store._sql import Row, Tx, chunks, utc_or_none


def item_state(row: Row) -> ItemState:
    source, item_id, contact_id, content_hash, last_seen_run, removed_at = row
    return ItemState(
        source=source,
        item_id=item_id,
        contact_id=contact_id,
        content_hash=content_hash,
        last_seen_run=last_seen_run,
        removed_at=utc_or_none(removed_at),
    )


async def check_pseudonym_key(tx: Tx, scope: str, fingerprint: str) -> None:
    await adopt_pseudonym_key(tx, scope, fingerprint, None)


async def adopt_pseudonym_key(tx: Tx, scope: str, fingerprint: str, previous: str | None) -> bool:
    """Remember the first key; accept the same key again; re-key a scope written with
    ``previous`` (returns True); refuse any other key."""
    rows = await tx.fetchall(
        "SELECT value FROM scope_meta WHERE scope = ? AND name = 'pseudonym_key'", (scope,)
    )
    if not rows:
        await tx.execute(
            "INSERT INTO scope_meta (scope, name, value) VALUES (?, 'pseudonym_key', ?)",
            (scope, fingerprint),
        )
        return False
    stored = rows[0][0]
    if stored == fingerprint:
        return False
    if previous is None or stored != previous:
        raise PseudonymKeyMismatch(
            f"scope {scope!r} was written with pseudonym key {stored}, not {fingerprint}: "
            "restore that key, or to rotate put it under 'pseudonym-previous' in the keys "
            "Secret (a new key alone would duplicate every known contact)"
        )
    # Pseudonyms cannot be translated to a new key; they are learnt again from the sources.
    # Forget them and the sync tokens, and make every item look changed, so the next sync
    # reads every source whole and binds each item's identities under the new key. Items
    # keep their contact ids, so nothing is created twice; unchanged content is not
    # rewritten (the destinations' hashes still match).
    # The suppression list stays: its entries move to the new key as that read meets the
    # records they match (contactsync_worker.engine.suppression).
    await tx.execute("DELETE FROM identities WHERE scope = ?", (scope,))
    await tx.execute("DELETE FROM item_identities WHERE scope = ?", (scope,))
    await tx.execute("DELETE FROM checkpoints WHERE scope = ?", (scope,))
    await tx.execute("UPDATE items SET content_hash = ? WHERE scope = ?", (PENDING_HASH, scope))
    await tx.execute(
        "UPDATE scope_meta SET value = ? WHERE scope = ? AND name = 'pseudonym_key'",
        (fingerprint, scope),
    )
    return True


async def get_checkpoint(tx: Tx, scope: str, source: str) -> str | None:
    rows = await tx.fetchall(
        "SELECT checkpoint FROM checkpoints WHERE scope = ? AND source = ?", (scope, source)
    )
    return rows[0][0] if rows else None


async def commit_checkpoint(
    tx: Tx, scope: str, source: str, checkpoint: str | None, now: datetime
) -> None:
    if checkpoint is None:
        await tx.execute("DELETE FROM checkpoints WHERE scope = ? AND source = ?", (scope, source))
        return
    await tx.execute(
        """INSERT INTO checkpoints (scope, source, checkpoint, committed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT (scope, source) DO UPDATE
           SET checkpoint = excluded.checkpoint, committed_at = excluded.committed_at""",
        (scope, source, checkpoint, now),
    )


async def get_items(
    tx: Tx, scope: str, source: str, item_ids: Collection[str]
) -> dict[str, ItemState]:
    found: dict[str, ItemState] = {}
    for chunk in chunks(item_ids):
        rows = await tx.fetchall(
            """SELECT source, item_id, contact_id, content_hash, last_seen_run, removed_at
               FROM items WHERE scope = ? AND source = ? AND item_id IN (?)""",
            (scope, source, chunk),
        )
        found.update((row[1], item_state(row)) for row in rows)
    return found


async def upsert_items(
    tx: Tx, scope: str, source: str, items: Sequence[ItemWrite], run: str
) -> None:
    await tx.executemany(
        # removed_at is left out: NULL for a new item, set NULL again for a known one.
        """INSERT INTO items
             (scope, source, item_id, contact_id, content_hash, last_seen_run)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (scope, source, item_id) DO UPDATE
           SET contact_id = excluded.contact_id, content_hash = excluded.content_hash,
               last_seen_run = excluded.last_seen_run, removed_at = NULL""",
        # One row per item, the last one given (as one statement per row would leave it).
        [
            (scope, source, i.item_id, i.contact_id, i.content_hash, run)
            for i in {i.item_id: i for i in items}.values()
        ],
    )


async def mark_seen(tx: Tx, scope: str, source: str, item_ids: Collection[str], run: str) -> int:
    touched = 0
    for chunk in chunks(item_ids):
        touched += await tx.execute(
            """UPDATE items SET last_seen_run = ?, removed_at = NULL
               WHERE scope = ? AND source = ? AND item_id IN (?)""",
            (run, scope, source, chunk),
        )
    return touched


async def unseen_items(
    tx: Tx, scope: str, source: str, run: str, after: str | None, limit: int
) -> list[ItemState]:
    # CAST gives the NULL a type: PostgreSQL cannot infer one for a bare "? IS NULL".
    rows = await tx.fetchall(
        """SELECT source, item_id, contact_id, content_hash, last_seen_run, removed_at
           FROM items
           WHERE scope = ? AND source = ? AND removed_at IS NULL
             AND (last_seen_run IS NULL OR last_seen_run <> ?)
             AND (CAST(? AS TEXT) IS NULL OR item_id > ?)
           ORDER BY item_id LIMIT ?""",
        (scope, source, run, after, after, limit),
    )
    return [item_state(row) for row in rows]


async def mark_removed(
    tx: Tx, scope: str, source: str, item_ids: Collection[str], now: datetime
) -> int:
    touched = 0
    for chunk in chunks(item_ids):
        # Only where unset: the grace period runs from the first time an item was missed.
        touched += await tx.execute(
            """UPDATE items SET removed_at = ?
               WHERE scope = ? AND source = ? AND removed_at IS NULL AND item_id IN (?)""",
            (now, scope, source, chunk),
        )
    return touched


async def removed_items(
    tx: Tx,
    scope: str,
    cutoff: datetime,
    source: str | None,
    after: ItemKey | None,
    limit: int,
) -> list[ItemState]:
    after_source, after_item = (after.source, after.item_id) if after else (None, None)
    rows = await tx.fetchall(
        """SELECT source, item_id, contact_id, content_hash, last_seen_run, removed_at
           FROM items
           WHERE scope = ? AND removed_at IS NOT NULL AND removed_at <= ?
             AND (CAST(? AS TEXT) IS NULL OR source = ?)
             AND (CAST(? AS TEXT) IS NULL OR source > ? OR (source = ? AND item_id > ?))
           ORDER BY source, item_id LIMIT ?""",
        (
            scope,
            cutoff,
            source,
            source,
            after_source,
            after_source,
            after_source,
            after_item,
            limit,
        ),
    )
    return [item_state(row) for row in rows]


async def forget_items(tx: Tx, scope: str, source: str, item_ids: Collection[str]) -> int:
    deleted = 0
    for chunk in chunks(item_ids):
        await tx.execute(
            "DELETE FROM item_identities WHERE scope = ? AND source = ? AND item_id IN (?)",
            (scope, source, chunk),
        )
        deleted += await tx.execute(
            "DELETE FROM items WHERE scope = ? AND source = ? AND item_id IN (?)",
            (scope, source, chunk),
        )
    return deleted


async def forget_sync_state(tx: Tx, scope: str) -> int:
    """Everything a scope's syncs learnt: sync tokens, items, identities, what was written.
    The audit trail stays (its retention is its own), and so does the suppression list."""
    forgotten = 0
    for table in ("checkpoints", "items", "item_identities", "identities", "written"):
        forgotten += await tx.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))  # noqa: S608 - fixed names
    return forgotten


async def contributors(
    tx: Tx, scope: str, contact_ids: Collection[str]
) -> dict[str, list[ItemState]]:
    found: dict[str, list[ItemState]] = {}
    for item in await items_of_contacts(tx, scope, contact_ids):
        found.setdefault(item.contact_id, []).append(item)
    return found


async def items_of_contacts(tx: Tx, scope: str, contact_ids: Collection[str]) -> list[ItemState]:
    items: list[ItemState] = []
    for chunk in chunks(contact_ids):
        rows = await tx.fetchall(
            """SELECT source, item_id, contact_id, content_hash, last_seen_run, removed_at
               FROM items WHERE scope = ? AND contact_id IN (?)
               ORDER BY contact_id, source, item_id""",
            (scope, chunk),
        )
        items += [item_state(row) for row in rows]
    return items
