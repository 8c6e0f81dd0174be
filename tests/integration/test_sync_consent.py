"""Consent values in whole syncs: a no is never written, and a contact whose consent is
withdrawn or expires leaves every destination in the run that reads it, grace or not."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.carddav_sync import VCARD, carddav_region, cards, sync, vcard
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]
SCOPE = "tests/phonebook/local"
THIRTY_DAYS = {"removedContacts": "30d", "auditLog": "400d", "workflowHistory": "7d"}
# Few contacts: one deletion is a large share, which the default guard would refuse.
ANY_SHARE = {"propagate": True, "maxDeletePercent": 100}


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


def everything_audited(tmp_path: Path) -> str:
    with sqlite3.connect(tmp_path / "state" / "state.sqlite") as db:
        return " ".join(str(v) for row in db.execute("SELECT * FROM audit_log") for v in row)


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


async def test_withdrawal_removes_the_contact_in_that_run_despite_the_grace_period(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    consent = {"mode": "Required", "property": "X-CONSENT", "purposes": ["directory"]}
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        consent=consent,
        retention=THIRTY_DAYS,
        deletes=ANY_SHARE,
    ) as (files, source, destination):
        ada = ("ada", "Ada Lovelace", "ada@example.org")
        await put(dav, source, "ada", vcard(*ada, "directory=granted;until=2999-01-01"))
        await put(
            dav, source, "alan", vcard("alan", "Alan Turing", "alan@example.org", "directory")
        )
        await put(dav, source, "grace", vcard("grace", "Grace Hopper", "grace@example.org", "yes"))
        first = await sync(files)
        assert (first.created, first.skipped_no_consent) == (2, 1)

        await put(dav, source, "ada", vcard(*ada, "directory=withdrawn"))
        second = await sync(files)

        assert (second.deleted, second.held, second.skipped_no_consent) == (1, 0, 1)
        assert names(await cards(dav, destination)) == {"Alan Turing"}
        records = audit(tmp_path)
        [deleted] = [(s, d) for a, s, d in records if a == "deleted"]
        assert deleted[1] == {"reason": "consent_withdrawn"}
        withdrawn = [(s, d) for a, s, d in records if a == "skipped_no_consent" and d["written"]]
        assert withdrawn == [(deleted[0], {"consent": "withdrawn", "written": True})]
        audited = everything_audited(tmp_path).lower()
        for personal in ("lovelace", "example.org", "directory"):
            assert personal not in audited, "the audit names the person by pseudonym only"

        # A record gone from its source is what the grace period is for: it stays 30 days.
        assert (await dav.delete(f"{source}alan.vcf")).status_code in (200, 204)
        third = await sync(files)
        assert (third.deleted, third.held) == (0, 1)
        assert names(await cards(dav, destination)) == {"Alan Turing"}


async def test_an_expired_grant_removes_the_contact_at_the_next_run(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    # A CSV source is read whole every run, so each run judges every grant at its own time.
    people = tmp_path / "people.csv"
    csv_source = {"name": "team", "region": "local", "csv": {"path": str(people)}}
    consent = {"mode": "Required", "property": "consent", "purposes": ["directory"]}
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        sources=[csv_source],
        consent=consent,
        retention=THIRTY_DAYS,
        deletes=ANY_SHARE,
    ) as (files, _, destination):
        ends = datetime.now(UTC) + timedelta(seconds=5)
        people.write_text(
            "id,fullName,emails,consent\n"
            f'1,Ada Lovelace,ada@example.org,"directory=granted;until={ends.isoformat()}"\n'
            "2,Alan Turing,alan@example.org,directory\n"
            "3,Grace Hopper,grace@example.org,directory=declined\n"
        )
        first = await sync(files)
        assert (first.created, first.skipped_no_consent) == (2, 1)

        await asyncio.sleep((ends - datetime.now(UTC)).total_seconds() + 1)
        second = await sync(files)

        assert (second.deleted, second.held, second.skipped_no_consent) == (1, 0, 2)
        assert names(await cards(dav, destination)) == {"Alan Turing"}
        reasons = [d.get("reason") for a, _, d in audit(tmp_path) if a == "deleted"]
        assert reasons == ["consent_expired"]


def names(book: dict[str, str]) -> set[str]:
    """The full names of the cards of a book."""
    return {name for card in book.values() for name in re.findall(r"^FN:([^\r\n]*)", card, re.M)}


async def test_a_refusal_takes_out_that_record_only_whether_or_not_deletes_propagate(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    # Ada is in both sources, each record with its own consent; Alan only in the address book.
    source = radicale_server.create_addressbook()
    people = tmp_path / "people.csv"
    people.write_text("id,fullName,emails,x-consent\n1,Ada Lovelace,ada@example.org,directory\n")
    signups = {"name": "signups", "region": "local", "csv": {"path": str(people)}}
    dav_secret = {"name": "dav"}
    team = {
        "name": "team",
        "region": "local",
        "carddav": {"url": source, "allowInsecure": True, "credentialsSecretRef": dav_secret},
    }
    consent = {"mode": "Required", "property": "X-CONSENT", "purposes": ["directory"]}
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        source_book=source,
        sources=[team, signups],
        consent=consent,
        retention=THIRTY_DAYS,
        deletes={"propagate": False, "maxDeletePercent": 100},
    ) as (files, _, destination):
        await put(
            dav, source, "ada", with_org("ada", "Ada Lovelace", "ada@example.org", "directory")
        )
        await put(
            dav, source, "alan", vcard("alan", "Alan Turing", "alan@example.org", "directory")
        )
        first = await sync(files)
        assert first.created == 2
        assert "Analytical Engines" in "".join((await cards(dav, destination)).values())

        await put(dav, source, "ada", with_org("ada", "Ada Lovelace", "ada@example.org", "no"))
        await put(dav, source, "alan", vcard("alan", "Alan Turing", "alan@example.org", "no"))
        second = await sync(files)

        assert (second.updated, second.deleted, second.held) == (1, 1, 0)
        book = await cards(dav, destination)
        assert names(book) == {"Ada Lovelace"}
        assert "Analytical Engines" not in "".join(book.values()), "the refused record's field"
        changes = [(a, d) for a, _, d in audit(tmp_path) if a in ("updated", "deleted")]
        assert changes == [
            ("updated", {"reason": "consent_withdrawn"}),
            ("deleted", {"reason": "consent_withdrawn"}),
        ]


def with_org(uid: str, name: str, email: str, consent: str) -> bytes:
    """A card whose organization only this source knows."""
    return vcard(uid, name, email, consent).replace(
        b"END:VCARD", b"ORG:Analytical Engines\r\nEND:VCARD"
    )
