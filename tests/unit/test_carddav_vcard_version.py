"""A CardDAV destination's vCard version: chosen in its spec (3.0 unless it says 4.0), declared
in the CRD for destinations only, and the version the adapter the spec builds writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from contactsync_api.crd import crd_manifest
from contactsync_api.fields import ContactField as F
from contactsync_api.spec import DestinationSpec, SourceSpec
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.destinations import Record, carddav
from contactsync_worker.destinations.carddav import CardDavDestination

BOOK = "https://dav.example.com/phonebook/"
EMPTY_MULTISTATUS = b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"/>'
RANKED = Record(
    "c1",
    {
        F.FULL_NAME: "Ada",
        F.PHONES: (
            Typed("+46 8 123", ("cell",), pref=1),
            Typed("+46 8 456", ("work",), pref=2),
        ),
    },
)


def destination(**carddav_spec: Any) -> DestinationSpec:
    return DestinationSpec.model_validate(
        {"name": "phones", "region": "local", "carddav": {"url": BOOK, **carddav_spec}}
    )


def crd_endpoint(role: str) -> dict[str, Any]:
    schema = crd_manifest()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    items = schema["properties"]["spec"]["properties"][role]["items"]
    endpoint: dict[str, Any] = items["properties"]["carddav"]
    return endpoint


def test_a_destination_writes_vcard_3_unless_its_spec_says_4() -> None:
    versions = [destination(**spec).carddav for spec in ({}, {"vcardVersion": "4.0"})]
    assert [endpoint.vcard_version if endpoint else None for endpoint in versions] == [
        "3.0",
        "4.0",
    ]


@pytest.mark.parametrize("version", ["2.1", "4", "", 4.0])
def test_a_version_other_than_3_0_or_4_0_is_refused(version: object) -> None:
    with pytest.raises(ValueError, match="vcardVersion"):
        destination(vcardVersion=version)


def test_a_source_has_no_version_to_choose() -> None:
    entry = {"name": "book", "region": "local", "carddav": {"url": BOOK, "vcardVersion": "4.0"}}
    with pytest.raises(ValueError, match="vcardVersion"):
        SourceSpec.model_validate(entry)


def test_the_crd_offers_the_two_versions_with_3_0_as_default_on_destinations_only() -> None:
    field = crd_endpoint("destinations")["properties"]["vcardVersion"]
    assert (field["type"], field["enum"], field["default"]) == ("string", ["3.0", "4.0"], "3.0")
    assert "Radicale" in field["description"]
    assert "PREF=2" in field["description"]
    assert "vcardVersion" not in crd_endpoint("sources")["properties"]


@pytest.mark.parametrize(
    ("spec", "written"),
    [
        ({}, ["VERSION:3.0", "TEL;TYPE=cell,pref:+46 8 123", "TEL;TYPE=work:+46 8 456"]),
        (
            {"vcardVersion": "4.0"},
            ["VERSION:4.0", "TEL;TYPE=cell;PREF=1:+46 8 123", "TEL;TYPE=work;PREF=2:+46 8 456"],
        ),
    ],
)
async def test_the_adapter_the_spec_builds_writes_its_version(
    spec: dict[str, str], written: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    puts: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "REPORT":  # nothing stored yet
            return httpx.Response(207, content=EMPTY_MULTISTATUS)
        assert request.method == "PUT"
        puts.append(request.content.decode())
        return httpx.Response(201)

    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    monkeypatch.setattr(carddav, "dav_access", lambda _spec, _context: (None, client))
    endpoint = destination(**spec).carddav
    assert endpoint is not None
    context = AdapterContext(FieldPolicy(frozenset(F)), tmp_path, egress=None)
    adapter = CardDavDestination.from_spec("phones", endpoint, context)
    try:
        assert (await adapter.upsert([RANKED])).created == 1
    finally:
        await adapter.aclose()
    lines = puts[0].split("\r\n")
    assert [line for line in lines if line.startswith(("VERSION", "TEL"))] == written
