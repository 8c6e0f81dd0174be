"""Queries for the suppression list: identity pseudonyms of erased people, by erasure."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from contactsync_worker.store import Suppression
from contactsync_worker.store._sql import Row, Tx, chunks

_COLUMNS = "pseudonym, kind, erasure, pseudonym_key"


def _entry(row: Row) -> Suppression:
    pseudonym, kind, erasure, key = row
    return Suppression(pseudonym=pseudonym, kind=kind, erasure=erasure, key=key)


async def suppress(tx: Tx, scope: str, entries: Sequence[Suppression], now: datetime) -> int:
    added = 0
    for entry in entries:
        # Kept as first made: a second erasure of the same value must not take it over, or
        # lifting that one would lift the first erasure's suppression of it too.
        added += await tx.execute(
            f"""INSERT INTO suppressions (scope, {_COLUMNS}, suppressed_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (scope, pseudonym) DO NOTHING""",  # noqa: S608 - fixed names
            (scope, entry.pseudonym, entry.kind, entry.erasure, entry.key, now),
        )
    return added


async def suppressions(tx: Tx, scope: str, pseudonyms: Collection[str]) -> dict[str, Suppression]:
    found: dict[str, Suppression] = {}
    for chunk in chunks(pseudonyms):
        rows = await tx.fetchall(
            f"SELECT {_COLUMNS} FROM suppressions WHERE scope = ? AND pseudonym IN (?)",  # noqa: S608 - fixed names
            (scope, chunk),
        )
        found.update((row[0], _entry(row)) for row in rows)
    return found


async def lift(tx: Tx, scope: str, pseudonyms: Collection[str]) -> list[Suppression]:
    erasures = sorted({e.erasure for e in (await suppressions(tx, scope, pseudonyms)).values()})
    lifted: list[Suppression] = []
    for chunk in chunks(erasures):
        rows = await tx.fetchall(
            f"""SELECT {_COLUMNS} FROM suppressions WHERE scope = ? AND erasure IN (?)
                ORDER BY erasure, pseudonym""",  # noqa: S608 - fixed names
            (scope, chunk),
        )
        lifted += [_entry(row) for row in rows]
        await tx.execute(
            "DELETE FROM suppressions WHERE scope = ? AND erasure IN (?)", (scope, chunk)
        )
    return lifted
