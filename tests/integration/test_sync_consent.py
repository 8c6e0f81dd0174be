"""Consent values in whole syncs: a no is never written."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
SCOPE = "tests/phonebook/local"


async def put(dav: httpx.AsyncClient, book: str, name: str, card: bytes) -> None:
    response = await dav.put(f"{book}{name}.vcf", content=card, headers=VCARD)
    assert response.status_code in (201, 204), response.text


def audit(tmp_path: Path) -> list[tuple[str, str | None, dict[str, Any]]]:
    """(action, subject, detail) of every audit record of the region, in order."""
    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        rows = db.execute(
            "SELECT action, subject, detail FROM audit_log WHERE scope = ? ORDER BY seq", (SCOPE,)
        ).fetchall()
    return [(action, subject, json.loads(detail)) for action, subject, detail in rows]


async def test_consent_that_says_no_is_never_written(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    # Required, no purposes listed: only a word that means yes, on its own, is consent.
    consent = {"mode": "Required", "property": "X-CONSENT"}
    said = {
        "withdrawn": "withdrawn",
        "opt-out": "Opt-Out",
        "no": " NO ",
        "expired": "granted;until=2020-01-01",
        "purpose-only": "directory",
        "yes-then-no": "granted\\,revoked",
        "yes": "granted",
        "dated-yes": "yes;until=2999-01-01",
    }
    async with carddav_region(tmp_path, radicale_server, temporal_server, consent=consent) as (
        files,
        source,
        destination,
    ):
        for n, (name, value) in enumerate(said.items()):
            person = f"Person {name.title()}"
            await put(dav, source, name, vcard(f"u{n}", person, f"{name}@example.org", value))

        summary = await sync(files)

        assert (summary.created, summary.skipped_no_consent) == (2, 6)
        assert names(await cards(dav, destination)) == {"Person Yes", "Person Dated-Yes"}
        skips = [d["consent"] for a, _, d in audit(tmp_path) if a == "skipped_no_consent"]
        assert sorted(skips) == [
            "expired",
            "not_granted",
            "withdrawn",
            "withdrawn",
            "withdrawn",
            "withdrawn",
        ]


def names(book: dict[str, str]) -> set[str]:
    """The full names of the cards of a book."""
    return {name for card in book.values() for name in re.findall(r"^FN:([^\r\n]*)", card, re.M)}
