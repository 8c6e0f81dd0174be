"""The files synced: N people as CSV and as JSON Lines, canonical column names and keys, an
id and nine fields each (fullName, givenName, familyName, emails, phones, organization,
title, addresses, note), the same for the same seed."""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from pathlib import Path

FIELDS = (
    "fullName",
    "givenName",
    "familyName",
    "emails",
    "phones",
    "organization",
    "title",
    "addresses",
    "note",
)
_GIVEN = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
_FAMILY = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_ORGS = ("Northwind", "Contoso", "Fabrikam", "Initech", "Globex", "Umbrella", "Hooli")
_TITLES = ("Engineer", "Manager", "Analyst", "Director", "Designer", "Consultant")
_CITIES = ("Berlin", "Lisbon", "Oslo", "Vienna", "Dublin", "Prague", "Madrid")


def person(index: int, rng: random.Random) -> dict[str, str | list[str]]:
    """Person ``index``: one email (unique, the identity the bench merges on), two phones,
    an address as vCard ADR text, and a note."""
    given, family = rng.choice(_GIVEN), rng.choice(_FAMILY)
    city = rng.choice(_CITIES)
    street, postcode = rng.randrange(1, 200), rng.randrange(10**4, 10**5)
    return {
        "id": f"p{index:07d}",
        "fullName": f"{given} {family}",
        "givenName": given,
        "familyName": family,
        "emails": [f"{given.lower()}.{family.lower()}.{index}@example.org"],
        "phones": [f"+49 30 {rng.randrange(10**6, 10**7)}", f"+49 170 {rng.randrange(10**7)}"],
        "organization": rng.choice(_ORGS),
        "title": rng.choice(_TITLES),
        "addresses": [f";;{street} Main Street;{city};;{postcode};Germany"],
        "note": f"met at the {city} meetup, revision 0",
    }


def people(records: int, seed: int) -> Iterator[dict[str, str | list[str]]]:
    rng = random.Random(seed)  # noqa: S311 - test data, no secret
    for index in range(records):
        yield person(index, rng)


def write_csv(path: Path, records: int, seed: int) -> None:
    """Multi-valued cells hold values separated by ``;``, addresses one per line."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(["id", *FIELDS])
        for p in people(records, seed):
            writer.writerow([p["id"], *(_cell(f, p[f]) for f in FIELDS)])


def _cell(field: str, value: str | list[str]) -> str:
    if isinstance(value, str):
        return value
    return ("\n" if field == "addresses" else ";").join(value)


def write_jsonl(path: Path, records: int, seed: int) -> None:
    with path.open("w", encoding="utf-8") as file:
        for p in people(records, seed):
            file.write(json.dumps(p, ensure_ascii=False, separators=(",", ":")) + "\n")


WRITERS = {"csv": write_csv, "jsonl": write_jsonl}
