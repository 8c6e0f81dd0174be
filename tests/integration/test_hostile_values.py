"""Values from a source cannot shape the cards written: a CSV row's photo that ends its line and
starts properties of its own (fields outside spec.fields, our own ownership markers) is
quarantined by line, and nothing of it reaches the destination. Real worker, Temporal, Radicale."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
import pytest

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
