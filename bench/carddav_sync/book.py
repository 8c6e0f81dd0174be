"""The address book both tools read: deterministic vCard 3.0 cards, nine properties each."""

from __future__ import annotations

import random
from collections.abc import Iterator

import httpx

VCARD = {"Content-Type": "text/vcard; charset=utf-8"}
_GIVEN = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
_FAMILY = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_ORGS = ("Northwind", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella", "Hooli")
_TITLES = ("Engineer", "Manager", "Analyst", "Director", "Designer", "Consultant")
_CITIES = ("Berlin", "Lisbon", "Oslo", "Vienna", "Dublin", "Prague", "Madrid")


def uid(index: int) -> str:
    return f"bench-{index:07d}"


def href(index: int) -> str:
    """Radicale names an item uploaded with its collection after its UID."""
    return f"{uid(index)}.vcf"


def card(index: int, seed: int, revision: int = 0) -> str:
    """Card ``index`` of the book: UID, FN, N, EMAIL, TEL, ORG, TITLE, ADR and NOTE.

    The same seed gives the same card; a new ``revision`` changes its phone and note.
    """
    rng = random.Random(f"{seed}/{index}/{revision}")  # noqa: S311 - test data, no secret
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    city = rng.choice(_CITIES)
    street, postcode = rng.randrange(1, 200), rng.randrange(10**4, 10**5)
    lines = [
        "BEGIN:VCARD",
        "VERSION:3.0",
        f"UID:{uid(index)}",
        f"FN:{given} {family}",
        f"N:{family};{given};;;",
        f"EMAIL;TYPE=INTERNET,WORK:{given.lower()}.{family.lower()}.{index}@example.org",
        f"TEL;TYPE=WORK,VOICE:+49 30 {rng.randrange(10**6, 10**7)}",
        f"ORG:{rng.choice(_ORGS)};{city}",
        f"TITLE:{rng.choice(_TITLES)}",
        f"ADR;TYPE=WORK:;;{street} Main Street;{city};;{postcode};",
        f"NOTE:revision {revision}",
        "END:VCARD",
    ]
    return "\r\n".join(lines) + "\r\n"


def whole_book(cards: int, seed: int) -> Iterator[bytes]:
    for index in range(cards):
        yield card(index, seed).encode()


def upload(client: httpx.Client, book_url: str, cards: int, seed: int) -> None:
    """Create the book with all its cards in one PUT of the collection: Radicale stores each
    card as its own item, where 10,000 PUTs of single cards would take minutes."""
    response = client.put(book_url, content=b"".join(whole_book(cards, seed)), headers=VCARD)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"PUT {book_url} -> {response.status_code}: {response.text[:500]}")


def changed_indexes(cards: int, seed: int, revision: int, percent: float) -> list[int]:
    count = max(1, round(cards * percent / 100))
    rng = random.Random(f"{seed}/changes/{revision}")  # noqa: S311 - test data, no secret
    return sorted(rng.sample(range(cards), count))


def change(
    client: httpx.Client, book_url: str, indexes: list[int], seed: int, revision: int
) -> None:
    """PUT a new revision of each card, as a user editing contacts would."""
    for index in indexes:
        response = client.put(
            f"{book_url}{href(index)}", content=card(index, seed, revision).encode(), headers=VCARD
        )
        if response.status_code not in (201, 204):
            raise RuntimeError(f"PUT {href(index)} -> {response.status_code}: {response.text}")


_PROPFIND_ETAGS = (
    '<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop></D:propfind>'
)


def count(client: httpx.Client, book_url: str) -> int:
    """Cards in an address book: its members, by PROPFIND."""
    response = client.request(
        "PROPFIND", book_url, content=_PROPFIND_ETAGS, headers={"Depth": "1"}, timeout=600
    )
    response.raise_for_status()
    return response.text.count(".vcf</")
