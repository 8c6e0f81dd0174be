"""Queries for what links people to contacts and contacts to destinations, and erasure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from contactsync_worker.store import SubjectRows, WrittenRef
from contactsync_worker.store._items import items_of_contacts
from contactsync_worker.store._sql import Tx, chunks


async def bind_identities(tx: Tx, scope: str, bindings: Mapping[str, str]) -> None:
    await tx.executemany(
        """INSERT INTO identities (scope, pseudonym, contact_id) VALUES (?, ?, ?)
           ON CONFLICT (scope, pseudonym) DO UPDATE SET contact_id = excluded.contact_id""",
        [(scope, pseudonym, contact_id) for pseudonym, contact_id in bindings.items()],
    )


async def lookup_identities(tx: Tx, scope: str, pseudonyms: Collection[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(pseudonyms):
        rows = await tx.fetchall(
            "SELECT pseudonym, contact_id FROM identities WHERE scope = ? AND pseudonym IN (?)",
            (scope, chunk),
        )
        found.update((pseudonym, contact_id) for pseudonym, contact_id in rows)
    return found


async def identities_of(tx: Tx, scope: str, contact_ids: Collection[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for chunk in chunks(contact_ids):
        rows = await tx.fetchall(
            """SELECT contact_id, pseudonym FROM identities
               WHERE scope = ? AND contact_id IN (?) ORDER BY contact_id, pseudonym""",
            (scope, chunk),
        )
        for contact_id, pseudonym in rows:
            found.setdefault(contact_id, []).append(pseudonym)
    return found


async def unbind_identities(tx: Tx, scope: str, pseudonyms: Collection[str]) -> int:
    deleted = 0
    for chunk in chunks(pseudonyms):
        deleted += await tx.execute(
            "DELETE FROM identities WHERE scope = ? AND pseudonym IN (?)", (scope, chunk)
        )
    return deleted


async def rebind_contacts(tx: Tx, scope: str, old_ids: Collection[str], new_id: str) -> int:
    moved = 0
    for chunk in chunks(set(old_ids) - {new_id}):
        moved += await tx.execute(
            "UPDATE identities SET contact_id = ? WHERE scope = ? AND contact_id IN (?)",
            (new_id, scope, chunk),
        )
        await tx.execute(
            "UPDATE items SET contact_id = ? WHERE scope = ? AND contact_id IN (?)",
            (new_id, scope, chunk),
        )
    return moved


async def written_hashes(
    tx: Tx, scope: str, destination: str, contact_ids: Collection[str]
) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in chunks(contact_ids):
        rows = await tx.fetchall(
            """SELECT contact_id, content_hash FROM written
               WHERE scope = ? AND destination = ? AND contact_id IN (?)""",
            (scope, destination, chunk),
        )
        found.update((contact_id, content_hash) for contact_id, content_hash in rows)
    return found


async def record_written(
    tx: Tx, scope: str, destination: str, hashes: Mapping[str, str], now: datetime
) -> None:
    await tx.executemany(
        """INSERT INTO written (scope, destination, contact_id, content_hash, written_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (scope, destination, contact_id) DO UPDATE
           SET content_hash = excluded.content_hash, written_at = excluded.written_at""",
        [(scope, destination, cid, digest, now) for cid, digest in hashes.items()],
    )


async def written_ids(
    tx: Tx, scope: str, destination: str, after: str | None, limit: int
) -> list[str]:
    rows = await tx.fetchall(
        """SELECT contact_id FROM written
           WHERE scope = ? AND destination = ? AND (CAST(? AS TEXT) IS NULL OR contact_id > ?)
           ORDER BY contact_id LIMIT ?""",
        (scope, destination, after, after, limit),
    )
    return [row[0] for row in rows]


async def count_written(tx: Tx, scope: str, destination: str) -> int:
    rows = await tx.fetchall(
        "SELECT count(*) FROM written WHERE scope = ? AND destination = ?", (scope, destination)
    )
    return int(rows[0][0])


async def forget_written(tx: Tx, scope: str, destination: str, contact_ids: Collection[str]) -> int:
    deleted = 0
    for chunk in chunks(contact_ids):
        deleted += await tx.execute(
            "DELETE FROM written WHERE scope = ? AND destination = ? AND contact_id IN (?)",
            (scope, destination, chunk),
        )
    return deleted


async def index_carried(
    tx: Tx, scope: str, source: str, carried: Mapping[str, Mapping[str, str]]
) -> None:
    for chunk in chunks(carried):
        await tx.execute(
            "DELETE FROM item_identities WHERE scope = ? AND source = ? AND item_id IN (?)",
            (scope, source, chunk),
        )
    await tx.executemany(
        """INSERT INTO item_identities (scope, source, item_id, pseudonym, kind)
           VALUES (?, ?, ?, ?, ?)""",
        [
            (scope, source, item_id, pseudonym, kind)
            for item_id, identities in carried.items()
            for pseudonym, kind in identities.items()
        ],
    )


async def contacts_carrying(tx: Tx, scope: str, pseudonyms: Collection[str]) -> set[str]:
    """Contacts with an item that carries any of ``pseudonyms``, under any identity key."""
    found: set[str] = set()
    for chunk in chunks(pseudonyms):
        rows = await tx.fetchall(
            """SELECT DISTINCT i.contact_id FROM item_identities k JOIN items i
                 ON i.scope = k.scope AND i.source = k.source AND i.item_id = k.item_id
               WHERE k.scope = ? AND k.pseudonym IN (?)""",
            (scope, chunk),
        )
        found.update(row[0] for row in rows)
    return found


async def carried_of(tx: Tx, scope: str, contact_ids: Collection[str], kind: str) -> list[str]:
    """The pseudonyms of one kind that the items of ``contact_ids`` carry."""
    found: set[str] = set()
    for chunk in chunks(contact_ids):
        rows = await tx.fetchall(
            """SELECT DISTINCT k.pseudonym FROM item_identities k JOIN items i
                 ON i.scope = k.scope AND i.source = k.source AND i.item_id = k.item_id
               WHERE i.scope = ? AND i.contact_id IN (?) AND k.kind = ?""",
            (scope, chunk, kind),
        )
        found.update(row[0] for row in rows)
    return sorted(found)


async def find_subject(tx: Tx, scope: str, pseudonyms: Collection[str]) -> SubjectRows:
    bound = set((await lookup_identities(tx, scope, pseudonyms)).values())
    contact_ids = sorted(bound | await contacts_carrying(tx, scope, pseudonyms))
    if not contact_ids:
        return SubjectRows()
    # Every identity of those contacts, not only the ones asked about: erasing by email
    # must also drop the uid and phone bindings of the same person.
    identities = await identities_of(tx, scope, contact_ids)
    written: list[WrittenRef] = []
    for chunk in chunks(contact_ids):
        rows = await tx.fetchall(
            """SELECT destination, contact_id FROM written
               WHERE scope = ? AND contact_id IN (?) ORDER BY destination, contact_id""",
            (scope, chunk),
        )
        written += [WrittenRef(destination, contact_id) for destination, contact_id in rows]
    return SubjectRows(
        contact_ids=tuple(contact_ids),
        identities=tuple(sorted(p for ps in identities.values() for p in ps)),
        items=tuple(await items_of_contacts(tx, scope, contact_ids)),
        written=tuple(sorted(written, key=lambda w: (w.destination, w.contact_id))),
        uids=tuple(await carried_of(tx, scope, contact_ids, "uid")),
    )


async def erase_subject(tx: Tx, scope: str, pseudonyms: Collection[str]) -> SubjectRows:
    subject = await find_subject(tx, scope, pseudonyms)
    for chunk in chunks(subject.contact_ids):
        for statement in _ERASE:
            await tx.execute(statement, (scope, chunk))
    return subject


_ERASE = (
    "DELETE FROM identities WHERE scope = ? AND contact_id IN (?)",
    # Before the items it joins on.
    """DELETE FROM item_identities WHERE scope = ? AND EXISTS (
         SELECT 1 FROM items i
         WHERE i.scope = item_identities.scope AND i.source = item_identities.source
           AND i.item_id = item_identities.item_id AND i.contact_id IN (?))""",
    "DELETE FROM items WHERE scope = ? AND contact_id IN (?)",
    "DELETE FROM written WHERE scope = ? AND contact_id IN (?)",
)
