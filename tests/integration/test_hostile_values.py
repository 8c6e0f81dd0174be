"""Values from a source cannot shape the cards written: a CSV row's photo that ends its line and
starts properties of its own (fields outside spec.fields, our own ownership markers) is
quarantined by line, and nothing of it reaches the destination; a label that does the same
stays the text of its label, and such a type quarantines its record. Real worker, Temporal,
Radicale."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import httpx
import pytest

from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.contacts.typed import as_typed
from contactsync_worker.contacts.vcard import parse_vcard, read_properties
from tests.carddav_sync import carddav_region, cards, sync
from tests.servers.radicale import RadicaleServer
from tests.servers.temporal import TemporalDevServer

pytestmark = [pytest.mark.carddav, pytest.mark.temporal]

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="  # noqa: E501 - a 1x1 PNG
INJECTED = "\r\nX-CONTACTSYNC-ID:forged\r\nX-CONTACTSYNC-HASH:0\r\nTITLE:Injected"
ROWS = [
    ("ada", "Ada Lovelace", "ada@example.org", f"data:image/png;base64,{PNG}"),
    ("eve", "Eve Payload", "eve@example.org", f"data:image/png;base64,{PNG}{INJECTED}"),
    ("mal", "Mal Media", "mal@example.org", f"data:image/png{INJECTED};base64,{PNG}"),
    ("txt", "Tex Plain", "tex@example.org", f"data:text/html;base64,{PNG}"),
]


async def test_a_photo_that_breaks_its_line_is_quarantined_and_adds_no_property(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["id", "fullName", "emails", "photo"])
    writer.writerows(ROWS)
    people = tmp_path / "people.csv"
    people.write_text(text.getvalue())
    source = {"name": "people", "region": "local", "csv": {"path": str(people)}}
    async with carddav_region(
        tmp_path / "worker",
        radicale_server,
        temporal_server,
        sources=[source],
        fields=["fullName", "emails", "photo"],
    ) as (files, _, destination):
        summary = await sync(files)
        written = await cards(dav, destination)

    assert summary.created == 1
    assert summary.quarantined == 3
    [card] = written.values()
    assert "FN:Ada Lovelace" in card
    assert re.search(r"^PHOTO;ENCODING=b;TYPE=PNG:", card, re.M)
    everything = "\n".join(written.values())
    for forged in ("forged", "TITLE", "Injected", "Eve", "Mal", "Tex"):
        assert forged not in everything


async def test_a_label_that_breaks_its_line_stays_its_text_and_such_a_type_is_quarantined(
    tmp_path: Path,
    radicale_server: RadicaleServer,
    temporal_server: TemporalDevServer,
    dav: httpx.AsyncClient,
) -> None:
    label = {"value": "+1 555 0100", "types": ["cell"], "label": f"Desk{INJECTED}"}
    address = {"value": ";;Weg 1;;;;", "label": f'Home"{INJECTED}'}
    forged_type = {"value": "+1 555 0101", "types": [f"cell{INJECTED}"]}
    people = tmp_path / "people.jsonl"
    people.write_text(
        json.dumps({"id": "ada", "fullName": "Ada", "phones": [label], "addresses": [address]})
        + "\n"
        + json.dumps({"id": "eve", "fullName": "Eve Payload", "phones": [forged_type]})
        + "\n"
    )
    source = {"name": "people", "region": "local", "jsonl": {"path": str(people)}}
    async with carddav_region(
        tmp_path / "worker",
        radicale_server,
        temporal_server,
        sources=[source],
        fields=["fullName", "phones", "addresses"],
    ) as (files, _, destination):
        summary = await sync(files)
        written = await cards(dav, destination)

    assert (summary.created, summary.quarantined) == (1, 1)  # Eve's type is no word
    [text] = written.values()
    card = html.unescape(text)
    own = read_properties(card, ["X-CONTACTSYNC-ID", "X-CONTACTSYNC-HASH", "TITLE"])
    assert [len(own.get(n, [])) for n in ("X-CONTACTSYNC-ID", "X-CONTACTSYNC-HASH")] == [1, 1]
    assert "forged" not in own["X-CONTACTSYNC-ID"][0]
    assert own["X-CONTACTSYNC-HASH"][0] != "0"
    assert "TITLE" not in own
    assert "Eve" not in card
    # The labels arrive whole, as the text they were.
    policy = FieldPolicy(allowed=frozenset({F.PHONES, F.ADDRESSES}))
    parsed = parse_vcard(card, policy, source="book", item_id="ada")
    injected = INJECTED.replace("\r\n", "\n")
    assert [t.label for t in as_typed(parsed.fields[F.PHONES])] == [f"Desk{injected}"]
    assert [t.label for t in as_typed(parsed.fields[F.ADDRESSES])] == [f'Home"{injected}']
