"""Round-trip fidelity over the real-world vCard corpus: every allowed property a card holds in
the source arrives in each destination with its value and its parameters (types, preference,
labels, Apple groups, tel: extensions), and a change of type alone is an update. CardDAV
(Radicale) into CardDAV and PostgreSQL through the real worker on the Temporal dev server;
input and output are compared as parsed values. A vCard 4.0 destination keeps what 3.0
cannot say: preference ranks below the first."""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from contactsync_api.fields import ContactField as F
from contactsync_api.spec import RegionConfig
from contactsync_worker.contacts.model import MULTI_VALUED, FieldPolicy, FieldValue
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed, as_typed, texts
from contactsync_worker.contacts.vcard import MalformedVCard, parse_vcard
from contactsync_worker.destinations.postgres import COLUMNS, TYPED_COLUMNS
from tests.carddav_sync import CORPUS, VCARD, carddav_region, cards, sync, upload_corpus
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.postgres, pytest.mark.carddav, pytest.mark.temporal]
EVERY_FIELD = FieldPolicy(allowed=frozenset(F), identity=())


def region_config(source: str, destination: str, table: str) -> RegionConfig:
    dav = {"allowInsecure": True, "credentialsSecretRef": {"name": "dav"}}
    return RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": [{"name": "book", "region": "local", "carddav": {"url": source, **dav}}],
            "destinations": [
                {"name": "phones", "region": "local", "carddav": {"url": destination, **dav}},
                {
                    "name": "db",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                },
            ],
            "fields": [str(f) for f in F],
            "identity": ["uid"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 20},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


def parsed_by_name(book: Mapping[str, str]) -> dict[str, Mapping[F, FieldValue]]:
    """Full name → every field of each readable card (the address data comes XML-escaped)."""
    found: dict[str, Mapping[F, FieldValue]] = {}
    for href, text in book.items():
        try:
            contact = parse_vcard(html.unescape(text), EVERY_FIELD, source="x", item_id=href)
        except MalformedVCard:
            continue
        name = contact.fields[F.FULL_NAME]
        assert isinstance(name, str)
        found[name] = contact.fields
    return found


def row_fields(row: Mapping[str, Any]) -> dict[F, object]:
    """A row's columns as field values: typed fields as the Typed values their jsonb holds."""
    fields: dict[F, object] = {}
    for field in F:
        value = row[COLUMNS[field]]
        if value is None:
            continue
        if field in TYPED_FIELDS:
            typed = [Typed(**item) for item in row[TYPED_COLUMNS[field]]]
            assert value == [t.value for t in typed], f"{field}: text[] and jsonb differ"
            fields[field] = typed
        else:
            fields[field] = tuple(value) if field in MULTI_VALUED else value
    return fields


def expected_row(fields: Mapping[F, FieldValue]) -> dict[F, object]:
    return {f: list(as_typed(v)) if f in TYPED_FIELDS else v for f, v in fields.items()}


def forms_present(cards: Mapping[str, Mapping[F, FieldValue]]) -> set[str]:
    """Which kinds of parameters the source cards hold, so the test cannot pass vacuously."""
    forms: set[str] = set()
    for fields in cards.values():
        for field in TYPED_FIELDS:
            for typed in as_typed(fields.get(field)):
                forms |= {"types"} if typed.types else set()
                forms |= {"pref"} if typed.pref else set()
                forms |= {f"{field} label"} if typed.label else set()
                forms |= {"extension"} if ";ext=" in typed.value else set()
    return forms


async def test_every_allowed_property_arrives_with_its_value_and_its_parameters(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    source = radicale_server.create_addressbook()
    destination = radicale_server.create_addressbook()
    table = f"fidelity_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(auth=(radicale_server.username, radicale_server.password)) as dav:
        await upload_corpus(dav, source)
        # What the source holds (Radicale rewrites some cards on PUT) is what must arrive.
        expected = parsed_by_name(await cards(dav, source))
        files = WorkerFiles(
            tmp_path,
            region_config(source, destination, table),
            task_queue=f"fidelity-{uuid.uuid4().hex[:8]}",
            temporal_address=temporal_server.address,
        )
        files.add_key("k0001")
        files.write_secret("pg", {"dsn": postgres_server.dsn})
        files.write_secret(
            "dav", {"username": radicale_server.username, "password": radicale_server.password}
        )
        async with running_worker(files, free_port()):
            summary = await sync(files)
        written = parsed_by_name(await cards(dav, destination))
    with psycopg.connect(postgres_server.dsn, row_factory=dict_row) as db:
        rows = db.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table))).fetchall()

    assert forms_present(expected) >= {
        "types",
        "pref",
        "extension",
        "phones label",  # an Apple group's X-ABLabel
        "urls label",  # Apple's own label name it has no type for
        "addresses label",  # vCard 4's LABEL parameter
    }
    assert len(expected) >= 10
    assert summary.created == 2 * len(expected)  # in each destination
    values = sum(len(texts(v)) for fields in expected.values() for v in fields.values())
    assert written == expected, f"CardDAV: not all of {values} values arrived intact"
    in_table = {str(r["full_name"]): row_fields(r) for r in rows}
    assert in_table == {n: expected_row(f) for n, f in expected.items()}, "PostgreSQL"
    # The region's state keeps hashes and pseudonyms: no value, type label or label.
    state = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file())
    assert state
    for fields in expected.values():
        for field in TYPED_FIELDS:
            for typed in as_typed(fields.get(field)):
                for text in (typed.value, typed.label):
                    assert not text or text.encode() not in state, field


async def test_a_changed_type_alone_updates_the_card_downstream(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    async with carddav_region(tmp_path, radicale_server, temporal_server) as running:
        files, source, destination = running
        alice = (CORPUS / "alice-liddell-v3.vcf").read_text()
        assert (await dav.put(f"{source}alice.vcf", content=alice, headers=VCARD)).is_success
        assert (await sync(files)).created == 1

        desk = alice.replace("TEL;type=CELL;type=VOICE;type=pref:", "TEL;type=WORK;type=pref:")
        assert desk != alice
        assert (await dav.put(f"{source}alice.vcf", content=desk, headers=VCARD)).is_success
        changed = await sync(files)
        written = parsed_by_name(await cards(dav, destination))

    assert (changed.created, changed.updated, changed.deleted) == (0, 1, 0)
    assert written["Alice Liddell"][F.PHONES] == (
        Typed("+44 20 7946 0018", ("work",), pref=1),
        Typed("+44 (20) 7946-0019", ("voice", "work")),
    )


# Ranks below the first, which only vCard 4.0 can write, and a URI with a comma, escaped as
# RFC 6350 §3.4 asks (Radicale cuts a value at an unescaped one, so the corpus's own 4.0 photo
# reaches the source already cut, and is quarantined there).
RANKED_CARD = """\
BEGIN:VCARD\r
VERSION:4.0\r
UID:ranked-0001\r
FN:Rosa Ranke\r
EMAIL;TYPE=work;PREF=1:rosa@firma.example\r
EMAIL;TYPE=home;PREF=2:rosa@privat.example\r
EMAIL;PREF=3:rosa@verein.example\r
TEL;VALUE=uri;TYPE=cell;PREF=2:tel:+49-170-555-0101\r
TEL;TYPE=work,voice;PREF=3:+49 30 555 0102\r
URL;PREF=2:https://rosa.example/?a=1\\,2\r
END:VCARD\r
"""


async def test_a_vcard_4_destination_keeps_every_preference_rank_and_every_value(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    source = radicale_server.create_addressbook()
    destination = radicale_server.create_addressbook()
    await upload_corpus(dav, source)
    put = await dav.put(f"{source}ranked.vcf", content=RANKED_CARD, headers=VCARD)
    assert put.is_success
    expected = parsed_by_name(await cards(dav, source))
    phonebook = {
        "url": destination,
        "allowInsecure": True,
        "credentialsSecretRef": {"name": "dav"},
        "vcardVersion": "4.0",
    }
    async with carddav_region(
        tmp_path,
        radicale_server,
        temporal_server,
        source_book=source,
        destination_book=destination,
        destinations=[{"name": "phonebook", "region": "local", "carddav": phonebook}],
        fields=[str(f) for f in F],
        identity=["uid"],
    ) as (files, _, _):
        first = await sync(files)
        again = await sync(files)
    book = await cards(dav, destination)
    written = parsed_by_name(book)

    ranks = {t.pref for f in expected.values() for k in TYPED_FIELDS for t in as_typed(f.get(k))}
    assert ranks >= {1, 2, 3}
    assert all("VERSION:4.0" in card for card in book.values())
    assert first.created == len(expected)
    assert written == expected
    assert written["Rosa Ranke"][F.EMAILS] == (
        Typed("rosa@firma.example", ("work",), pref=1),
        Typed("rosa@privat.example", ("home",), pref=2),
        Typed("rosa@verein.example", pref=3),
    )
    # A photo's data: URI and a URL came through whole, not cut at their first comma.
    assert str(written["Bob Builder"][F.PHOTO]).startswith("data:image/png;base64,iVBOR")
    assert written["Rosa Ranke"][F.URLS] == (Typed("https://rosa.example/?a=1,2", pref=2),)
    # A second run finds nothing to write.
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
