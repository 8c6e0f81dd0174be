"""Queries for what the pages of one run share while several work at once: a lock that
lets one page at a time decide which contacts its records belong to, and the run's count of
deletions, which the mass-delete guard counts across every page however they interleave.

Both live in ``scope_meta`` rows, so neither needs a table of its own: the lock is a row
read with ``SELECT … FOR UPDATE`` on PostgreSQL (held by the transaction until it ends; on
SQLite a write transaction already holds the database), the count a number in text.
"""

from __future__ import annotations

from contactsync_worker.store._sql import Tx

_LOCK = "identities_lock"
_RUN = "run:"  # then the run's id, and what is counted for it


def _deletions(run: str) -> str:
    return f"{_RUN}{run}:deletions"


def _held(run: str, destination: str) -> str:
    return f"{_RUN}{run}:held:{destination}"


async def lock_identities(tx: Tx, scope: str) -> None:
    """Until ``tx`` ends, no other transaction of the scope gets past this line."""
    await tx.execute(
        "INSERT INTO scope_meta (scope, name, value) VALUES (?, ?, '') "
        "ON CONFLICT (scope, name) DO NOTHING",
        (scope, _LOCK),
    )
    if tx.locks_rows:
        await tx.fetchall(
            "SELECT value FROM scope_meta WHERE scope = ? AND name = ? FOR UPDATE",
            (scope, _LOCK),
        )


async def reserve_deletions(tx: Tx, scope: str, run: str, count: int) -> int:
    """Add ``count`` to the run's deletions; the total, this reservation included."""
    rows = await tx.fetchall(
        "INSERT INTO scope_meta (scope, name, value) VALUES (?, ?, CAST(? AS TEXT)) "
        "ON CONFLICT (scope, name) DO UPDATE "
        "SET value = CAST(CAST(scope_meta.value AS INTEGER) + ? AS TEXT) "
        "RETURNING value",
        (scope, _deletions(run), count, count),
    )
    return int(rows[0][0])


async def run_held(tx: Tx, scope: str, run: str, destination: str, held_now: int) -> int:
    """What ``destination`` held when the run's pages first counted deletions: ``held_now``
    if this is the first count, else what the first one recorded. (The first count comes
    before any deletion the count allows, so later deletions do not shrink the base.)"""
    name = _held(run, destination)
    await tx.execute(
        "INSERT INTO scope_meta (scope, name, value) VALUES (?, ?, CAST(? AS TEXT)) "
        "ON CONFLICT (scope, name) DO NOTHING",
        (scope, name, held_now),
    )
    rows = await tx.fetchall(
        "SELECT value FROM scope_meta WHERE scope = ? AND name = ?", (scope, name)
    )
    return int(rows[0][0])


async def forget_run(tx: Tx, scope: str, run: str) -> int:
    """Drop what was counted for ``run`` (when it ends; another run may be counting too)."""
    prefix = f"{_RUN}{run}:"  # compared whole: a run id may hold LIKE's wildcards
    return await tx.execute(
        "DELETE FROM scope_meta WHERE scope = ? AND substr(name, 1, ?) = ?",
        (scope, len(prefix), prefix),
    )
