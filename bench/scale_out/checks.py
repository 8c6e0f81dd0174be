"""What a run must have done for its time to count: every card written once, as one row of
its own, and nothing of the model skipped (the proxy dropped the cards from the listing, so
the cards came by multiget). A run that fails a check stops the benchmark."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg
from psycopg import sql

from contactsync_api.workflows import SyncSummary
from contactsync_worker.sources.carddav import MULTIGET_CHUNK, PAGE_SIZE

MULTIGET = "addressbook-multiget"
STRIPPED_LISTING = "sync-collection (cards dropped)"
FULL_LISTING = "sync-collection"


@dataclass(frozen=True)
class Written:
    rows: int
    duplicate_emails: int  # email values held by more than one row, or twice by one


async def written(dsn: str, table: str) -> Written:
    query = sql.SQL(
        "SELECT (SELECT count(*) FROM {table}), "
        "(SELECT count(*) - count(DISTINCT lower(email)) FROM {table}, unnest(emails) AS email)"
    ).format(table=sql.Identifier(table))
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        row = await (await conn.execute(query)).fetchone()
    if row is None:
        raise RuntimeError(f"no counts from {table}")
    return Written(int(row[0]), int(row[1]))


def multigets_for(cards: int) -> int:
    """The multigets a full read of ``cards`` takes: a page's cards in chunks."""
    full, rest = divmod(cards, PAGE_SIZE)
    return full * -(-PAGE_SIZE // MULTIGET_CHUNK) + -(-rest // MULTIGET_CHUNK)


def problems(
    cards: int, summary: SyncSummary, written: Written, requests: Mapping[str, int]
) -> list[str]:
    """What is wrong with a full sync of ``cards`` cards; empty when nothing is."""
    found = []
    if summary.created != cards:
        found.append(f"summary.created {summary.created}, expected {cards}")
    if summary.quarantined:
        found.append(f"{summary.quarantined} cards quarantined")
    if written.rows != cards:
        found.append(f"{written.rows} rows in the destination, expected {cards}")
    if written.duplicate_emails:
        found.append(f"{written.duplicate_emails} emails written more than once")
    if requests.get(FULL_LISTING):
        found.append("a sync-collection kept its cards: the proxy did not drop them")
    # More is a page read again (a retry, in the history); fewer, cards that came another way.
    if requests.get(MULTIGET, 0) < multigets_for(cards):
        found.append(
            f"{requests.get(MULTIGET, 0)} multigets, expected {multigets_for(cards)} at least"
        )
    return found
