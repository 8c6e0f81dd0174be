"""The mass-delete guard with pages worked at once: after a full sync, 30% of the cards are
edited to also name the email of another card, so each folds that card's contact into its
own (one deletion downstream each). The changes list as several pages, worked in slices;
each page alone stays under the 20% limit, all of them do not, so the next sync must stop
with nothing deleted past the limit, whichever pages the workers take first."""

from __future__ import annotations

import asyncio
import math

import httpx

from bench.carddav_sync import book
from bench.scale_out.region import MAX_DELETE_PERCENT

FOLDED_PERCENT = 30
PUTS_AT_ONCE = 4


def pairs(cards: int) -> list[tuple[int, int]]:
    """(card edited, card whose contact it folds): distinct cards, none in two pairs."""
    count = math.ceil(cards * FOLDED_PERCENT / 100)
    return [(n, count + n) for n in range(count)]


def email_of(card: str) -> str:
    return next(line for line in card.splitlines() if line.startswith("EMAIL")).split(":", 1)[1]


def joined(index: int, other: int, seed: int) -> str:
    """Card ``index`` with the email of card ``other`` added after its own."""
    own = book.card(index, seed)
    mine = next(line for line in own.splitlines() if line.startswith("EMAIL"))
    extra = f"EMAIL;TYPE=INTERNET,HOME:{email_of(book.card(other, seed))}"
    return own.replace(mine + "\r\n", f"{mine}\r\n{extra}\r\n", 1)


def least_rows(cards: int) -> int:
    """The fewest rows the guard may leave after the folds: the limit's share deleted."""
    return cards - cards * MAX_DELETE_PERCENT // 100


async def fold(book_url: str, auth: tuple[str, str], cards: int, seed: int) -> int:
    """PUT the edited cards straight to Radicale (not through the proxy: this is set-up, not
    measured); return how many."""
    edits = pairs(cards)
    gate = asyncio.Semaphore(PUTS_AT_ONCE)
    async with httpx.AsyncClient(auth=auth, timeout=60.0) as client:

        async def put(index: int, other: int) -> None:
            async with gate:
                response = await client.put(
                    f"{book_url}{book.href(index)}",
                    content=joined(index, other, seed).encode(),
                    headers=book.VCARD,
                )
            if response.status_code not in (201, 204):
                raise RuntimeError(f"PUT {book.href(index)} -> {response.status_code}")

        await asyncio.gather(*(put(index, other) for index, other in edits))
    return len(edits)
