"""Typed values in CSV and JSON Lines files: ``<field>.<type>`` columns and keys, JSON value
objects, and records whose typing cannot be used quarantined without their values."""

from __future__ import annotations

import json
from pathlib import Path

from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldPolicy, Page
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.sources.files import CsvSource, JsonLinesSource

POLICY = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS, F.PHONES, F.ADDRESSES}))
MARKER = "typed.marker@example.test"


async def page_of(path: Path, policy: FieldPolicy = POLICY) -> Page:
    spec = FileSourceSpec(path=str(path))
    source: CsvSource | JsonLinesSource
    if path.suffix == ".csv":
        source = CsvSource("people", spec, policy)
    else:
        source = JsonLinesSource("people", spec, policy)
    page = await source.fetch(None, None)
    await source.aclose()
    assert page.complete
    return page


def write_jsonl(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects))
    return path


async def test_csv_typed_columns_give_their_types_in_header_order(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "id,fullName,Phones.Cell,phones,phones.work.fax,emails.work.pref,addresses.home\n"
        'p1,Ada,+44 1; +44 2,+44 3,+44 4,ada@example.test,"Weg 1\n;;Weg 2;Berlin;;;"\n'
    )

    [contact] = (await page_of(path)).contacts

    assert contact.fields[F.PHONES] == (
        Typed("+44 1", ("cell",)),
        Typed("+44 2", ("cell",)),
        Typed("+44 3"),
        Typed("+44 4", ("fax", "work")),
    )
    assert contact.fields[F.EMAILS] == (Typed("ada@example.test", ("work",), pref=1),)
    assert contact.fields[F.ADDRESSES] == (
        Typed(";;Weg 1;;;;", ("home",)),
        Typed(";;Weg 2;Berlin;;;", ("home",)),
    )


async def test_csv_typed_columns_of_disallowed_fields_or_with_no_token_types_are_not_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(f"id,fullName,urls.home,phones.my cell,emails\np1,Ada,{MARKER},{MARKER},\n")

    page = await page_of(path)

    assert page.contacts[0].fields == {F.FULL_NAME: "Ada"}
    assert MARKER not in repr(page)


async def test_the_same_value_in_two_columns_is_one_value_with_both_types(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("id,phones.work,phones.voice\np1,+1 555,+1 555\n")

    [contact] = (await page_of(path)).contacts

    assert contact.fields[F.PHONES] == (Typed("+1 555", ("voice", "work")),)


async def test_jsonl_objects_plain_strings_and_typed_keys(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "people.jsonl",
        {
            "id": "p1",
            "phones": [
                "+1 555 0100",
                {"value": "+1 555 0101", "types": ["cell"], "pref": 1, "label": "Private"},
            ],
            "phones.work": {"value": "+1 555 0102", "types": "voice"},
            "emails.home": ["a@home.example"],
            "addresses": {"value": "Weg 1", "types": ["home"], "label": "Ada\nWeg 1"},
            "value": MARKER,
            "label": MARKER,
        },
    )

    page = await page_of(path)

    assert page.contacts[0].fields == {
        F.PHONES: (
            Typed("+1 555 0100"),
            Typed("+1 555 0101", ("cell",), 1, "Private"),
            Typed("+1 555 0102", ("voice", "work")),
        ),
        F.EMAILS: (Typed("a@home.example", ("home",)),),
        F.ADDRESSES: (Typed(";;Weg 1;;;;", ("home",), label="Ada\nWeg 1"),),
    }
    assert MARKER not in repr(page)


async def test_jsonl_unknown_keys_of_a_value_object_are_dropped(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "people.jsonl",
        {"id": "p1", "emails": [{"value": "a@b.example", "secret": MARKER, "note": MARKER}]},
    )

    page = await page_of(path)

    assert page.contacts[0].fields == {F.EMAILS: (Typed("a@b.example"),)}
    assert MARKER not in repr(page)


async def test_jsonl_typing_that_cannot_be_used_is_quarantined_by_line_without_values(
    tmp_path: Path,
) -> None:
    path = write_jsonl(
        tmp_path / "people.jsonl",
        {"id": "ok", "phones": {"value": "+1 555"}},
        {"id": "a", "phones": {"types": ["cell"], "label": MARKER}},
        {"id": "b", "phones": {"value": MARKER, "types": [f"{MARKER}\r\nTITLE:x"]}},
        {"id": "c", "phones": {"value": MARKER, "pref": 0}},
        {"id": "d", "phones": {"value": MARKER, "pref": True}},
        {"id": "e", "phones": {"value": MARKER, "label": ["x"]}},
        {"id": "f", "phones": [1]},
        {"id": "g", "phones": "+1", "phones.cell": "+2", "phones.CELL": "+3"},
    )

    page = await page_of(path)

    assert [c.item_id for c in page.contacts] == ["ok"]
    assert {q.item_id: q.reason for q in page.quarantined} == {
        "line:2": 'phones: a typed value needs "value", a string',
        "line:3": "phones: a type is a word of letters, digits and '-'",
        "line:4": "phones: a preference is a whole number from 1 to 100",
        "line:5": 'phones: "pref" must be a whole number from 1 to 100',
        "line:6": 'phones: "label" must be a string',
        "line:7": 'phones must be a string, an object with a "value", or a list of them',
        "line:8": "the key 'phones.cell' appears twice",
    }
    assert MARKER not in repr(page.quarantined)
