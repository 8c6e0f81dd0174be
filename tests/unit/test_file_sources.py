"""CSV and JSON Lines sources on temp files: mapping, minimization, quarantine, paging."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.errors import CursorExpired, SourceUnavailable
from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_api.spec import ConsentSpec
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.consent import ConsentVerdict as V
from contactsync_worker.contacts.consent import judge
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page, Quarantined
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.sources.file_records import MAX_RECORD_BYTES, RawRecord, RecordMapper
from contactsync_worker.sources.files import CsvSource, JsonLinesSource

POLICY = FieldPolicy(
    allowed=frozenset({F.FULL_NAME, F.EMAILS, F.PHONES, F.ADDRESSES}),
    consent_property="X-CONSENT",
)
# Values that must never leave the parser: disallowed columns, and broken rows' contents.
NOTE_MARKER = "NOTE-MARKER-do-not-sync"
SALARY_MARKER = "SALARY-MARKER-93000"
BROKEN_MARKER = "broken.marker@example.test"


def csv_source(path: Path, policy: FieldPolicy = POLICY, page_size: int = 500) -> CsvSource:
    return CsvSource("people-csv", FileSourceSpec(path=str(path)), policy, page_size=page_size)


def jsonl_source(path: Path, policy: FieldPolicy = POLICY, page_size: int = 500) -> JsonLinesSource:
    return JsonLinesSource(
        "people-jsonl", FileSourceSpec(path=str(path)), policy, page_size=page_size
    )


def write_jsonl(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects))
    return path


async def read_all(source: CsvSource | JsonLinesSource) -> list[Page]:
    pages = [await source.fetch(None, None)]
    while not pages[-1].complete:
        pages.append(await source.fetch(pages[-1].cursor, None))
    return pages


async def only_page(source: CsvSource | JsonLinesSource) -> Page:
    page = await source.fetch(None, None)
    assert page.complete
    assert page.cursor is None
    assert page.snapshot
    return page


# --- CSV ----------------------------------------------------------------------------


async def test_csv_columns_map_to_canonical_fields_with_multi_values_split_on_semicolons(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "id,FullName,emails,phones,addresses,X-Consent\n"
        "p1,Jürgen Groß,jg@example.test; j.gross@example.test,+49 30 1234,"
        '"Hauptstraße 1, Berlin\n;;Zweiter Weg 2;Köln;NRW;50667;DE",directory;newsletter\n'
        "p2,李雷,li@example.test,,,\n",
        encoding="utf-8",
    )

    page = await only_page(csv_source(path))

    first, second = page.contacts
    assert first.item_id == "p1"
    assert first.fields == {
        F.FULL_NAME: "Jürgen Groß",
        F.EMAILS: (Typed("jg@example.test"), Typed("j.gross@example.test")),
        F.PHONES: (Typed("+49 30 1234"),),
        F.ADDRESSES: (
            Typed(";;Hauptstraße 1\\, Berlin;;;;"),
            Typed(";;Zweiter Weg 2;Köln;NRW;50667;DE"),
        ),
    }
    assert first.consent == ("directory;newsletter",)
    assert second.fields == {F.FULL_NAME: "李雷", F.EMAILS: (Typed("li@example.test"),)}
    assert second.consent == ("",)  # an empty cell: judged as no consent recorded


async def test_csv_columns_outside_the_allowlist_appear_nowhere(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "id,fullName,note,salary,emails\n"
        f"p1,Erika Mustermann,{NOTE_MARKER},{SALARY_MARKER},erika@example.test\n"
    )
    source = csv_source(path)

    page = await only_page(source)

    [contact] = page.contacts
    assert set(contact.fields) == {F.FULL_NAME, F.EMAILS}
    everything = repr(page) + repr(source.__dict__)
    assert NOTE_MARKER not in everything
    assert SALARY_MARKER not in everything


async def test_malformed_csv_rows_are_quarantined_by_line_without_their_values(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(
        b"id,fullName,emails\n"
        b"p1,Good One,one@example.test\n"
        b"p2,Too,Many," + BROKEN_MARKER.encode() + b"\n"
        b"p3,Bad \xff UTF-8 " + BROKEN_MARKER.encode() + b",x@example.test\n"
        b'p4,"Stray"quote,' + BROKEN_MARKER.encode() + b"\n"
        b"p1,Same Id," + BROKEN_MARKER.encode() + b"\n"
        b",No Id," + BROKEN_MARKER.encode() + b"\n"
        b"\n"
        b"p5,Good Two,two@example.test\n"
    )

    page = await only_page(csv_source(path))

    assert [c.item_id for c in page.contacts] == ["p1", "p5"]
    assert {q.item_id: q.reason for q in page.quarantined} == {
        "line:3": "the row has 4 cells; the header has 3",
        "line:4": "fullName is not valid UTF-8",
        "line:5": "not valid CSV (',' expected after '\"')",
        "line:6": "duplicate id: line 2 has the same id",
        "line:7": "id is empty",
    }
    assert all(BROKEN_MARKER not in repr(q) for q in page.quarantined)


async def test_an_unclosed_quote_makes_the_whole_csv_unavailable_instead_of_losing_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_text('id,fullName\np1,"Unclosed\np2,Next\np3,Last\n')

    with pytest.raises(SourceUnavailable, match="line 2 never closes"):
        await csv_source(path).fetch(None, None)


@pytest.mark.parametrize("content", ["", "\n"])
async def test_a_csv_without_header_is_unavailable_rather_than_empty(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(content)
    with pytest.raises(SourceUnavailable, match="no header row"):
        await csv_source(path).fetch(None, None)


async def test_without_an_id_column_the_item_id_is_a_hash_of_the_first_identity_value(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "fullName,emails\n"
        "Erika,erika@example.test\n"
        "Erika Two,erika@example.test;second@example.test\n"
        "Nobody,\n"
    )

    page = await only_page(csv_source(path))

    [contact] = page.contacts
    assert contact.item_id.startswith("sha256:")
    assert "erika" not in contact.item_id
    # The second row shares the first identity value, so it would share the id.
    assert {q.item_id: q.reason for q in page.quarantined} == {
        "line:3": "duplicate id: line 2 has the same id",
        "line:4": "no id: the record has no id or uid, and no identity value to derive one from",
    }


async def test_a_uid_column_gives_item_id_and_uid(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("uid,fullName\nu-1,Erika\n")

    [contact] = (await only_page(csv_source(path))).contacts

    assert (contact.item_id, contact.uid) == ("u-1", "u-1")


# --- JSON Lines ---------------------------------------------------------------------


async def test_jsonl_objects_map_to_canonical_fields(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "people.jsonl",
        {
            "id": 17,
            "fullName": "Zoë Ångström",
            "emails": ["zoe@example.test", "zoe@example.test", ""],
            "phones": "+46 8 123",
            "X-CONSENT": ["directory", "newsletter"],
            "note": NOTE_MARKER,
        },
        {"uid": "u-2", "fullName": "Ōta", "X-CONSENT": "directory, research"},
    )

    page = await only_page(jsonl_source(path))

    first, second = page.contacts
    assert first == Contact(
        source="people-jsonl",
        item_id="17",
        fields={
            F.FULL_NAME: "Zoë Ångström",
            F.EMAILS: (Typed("zoe@example.test"),),
            F.PHONES: (Typed("+46 8 123"),),
        },
        consent=("directory", "newsletter"),
    )
    assert (second.item_id, second.uid) == ("u-2", "u-2")
    assert second.consent == ("directory, research",)
    assert NOTE_MARKER not in repr(page)


async def test_consent_that_says_no_is_no_in_csv_and_json_lines(tmp_path: Path) -> None:
    said = {
        "yes": V.GRANTED,
        "no": V.WITHDRAWN,
        "OPT-OUT": V.WITHDRAWN,
        "0": V.WITHDRAWN,
        "granted;until=2026-01-01": V.EXPIRED,
        "pending": V.NOT_GRANTED,
    }
    csv_path = tmp_path / "people.csv"
    csv_path.write_text(
        "id,emails,x-consent\n"
        + "".join(f'{n},p{n}@example.test,"{v}"\n' for n, v in enumerate(said))
    )
    json_said = [(True, V.GRANTED), (False, V.WITHDRAWN), (1, V.GRANTED), (0, V.WITHDRAWN)]
    jsonl_path = write_jsonl(
        tmp_path / "people.jsonl",
        *({"id": n, "X-CONSENT": value} for n, (value, _) in enumerate(json_said)),
    )

    csv_page = await only_page(csv_source(csv_path))
    jsonl_page = await only_page(jsonl_source(jsonl_path))

    at = datetime(2026, 6, 1, tzinfo=UTC)
    assert [judge(c.consent, ConsentSpec(), at) for c in csv_page.contacts] == list(said.values())
    assert [judge(c.consent, ConsentSpec(), at) for c in jsonl_page.contacts] == [
        verdict for _, verdict in json_said
    ]
    assert not csv_page.quarantined
    assert not jsonl_page.quarantined


async def test_jsonl_keys_outside_the_allowlist_are_dropped_while_decoding(
    tmp_path: Path,
) -> None:
    path = write_jsonl(
        tmp_path / "people.jsonl",
        {"id": "a", "fullName": "Erika", "note": NOTE_MARKER, "extra": {"salary": SALARY_MARKER}},
    )
    source = jsonl_source(path)

    [contact] = (await only_page(source)).contacts

    assert set(contact.fields) == {F.FULL_NAME}
    everything = repr(contact) + repr(source.__dict__)
    assert NOTE_MARKER not in everything
    assert SALARY_MARKER not in everything


async def test_malformed_jsonl_lines_are_quarantined_by_line_without_their_values(
    tmp_path: Path,
) -> None:
    marker = BROKEN_MARKER.encode()
    path = tmp_path / "people.jsonl"
    path.write_bytes(
        b'{"id": "ok1", "fullName": "Good One"}\n'
        b'{"id": "x", "fullName": "' + marker + b'"\n'
        b'["' + marker + b'"]\n'
        b'{"id": "y", "fullName": ["' + marker + b'"]}\n'
        b'{"id": "z", "emails": [1, "' + marker + b'"]}\n'
        b'{"id": "w", "fullName": "\xff' + marker + b'"}\n'
        b"\n"
        b'{"id": "ok1", "fullName": "' + marker + b'"}\n'
        b'{"id": "ok2", "fullName": "Good Two"}\n'
    )

    page = await only_page(jsonl_source(path))

    assert [c.item_id for c in page.contacts] == ["ok1", "ok2"]
    assert {q.item_id: q.reason for q in page.quarantined} == {
        "line:2": "the line is not valid JSON",
        "line:3": "the line is not a JSON object",
        "line:4": "fullName must be a string",
        "line:5": 'emails must be a string, an object with a "value", or a list of them',
        "line:6": "the line is not valid UTF-8",
        "line:8": "duplicate id: line 1 has the same id",
    }
    assert all(BROKEN_MARKER not in repr(q) for q in page.quarantined)


# --- paging -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
async def test_small_pages_cover_every_row_exactly_once(tmp_path: Path, kind: str) -> None:
    rows = [{"id": f"r{n:02}", "fullName": f"Person {n} Ünïcødé"} for n in range(23)]
    if kind == "csv":
        path = tmp_path / "people.csv"
        path.write_text("id,fullName\n" + "".join(f"{r['id']},{r['fullName']}\n" for r in rows))
        source: CsvSource | JsonLinesSource = csv_source(path, page_size=5)
    else:
        source = jsonl_source(write_jsonl(tmp_path / "people.jsonl", *rows), page_size=5)

    pages = await read_all(source)

    assert [len(p.contacts) for p in pages] == [5, 5, 5, 5, 3]
    assert [p.complete for p in pages] == [False] * 4 + [True]
    ids = [c.item_id for p in pages for c in p.contacts]
    assert ids == [r["id"] for r in rows]


async def test_a_quarantined_row_takes_its_place_in_the_page(tmp_path: Path) -> None:
    path = tmp_path / "people.jsonl"
    path.write_text('{"id": "a", "fullName": "A"}\nnot json\n{"id": "b", "fullName": "B"}\n')

    pages = await read_all(jsonl_source(path, page_size=2))

    assert [([c.item_id for c in p.contacts], len(p.quarantined)) for p in pages] == [
        (["a"], 1),
        (["b"], 0),
    ]


async def test_another_adapter_continues_a_run_from_its_cursor(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", *({"id": str(n), "fullName": "X"} for n in range(4)))

    first = await jsonl_source(path, page_size=3).fetch(None, None)
    second = await jsonl_source(path, page_size=3).fetch(first.cursor, None)

    assert [c.item_id for c in first.contacts + second.contacts] == ["0", "1", "2", "3"]
    assert second.complete


async def test_a_file_changed_mid_run_expires_the_cursor(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", *({"id": str(n), "fullName": "X"} for n in range(4)))
    reading = jsonl_source(path, page_size=3)
    first = await reading.fetch(None, None)

    write_jsonl(path, {"id": "new", "fullName": "Y"})

    # The adapter that started the run finishes the snapshot it started...
    rest = await reading.fetch(first.cursor, None)
    assert [c.item_id for c in rest.contacts] == ["3"]
    # ...one that never saw that version cannot mix the new file into the old run.
    with pytest.raises(CursorExpired):
        await jsonl_source(path, page_size=3).fetch(first.cursor, None)
    assert issubclass(CursorExpired, SourceUnavailable)


async def test_an_adapter_holding_an_older_version_rereads_for_a_newer_cursor(
    tmp_path: Path,
) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", {"id": "old", "fullName": "X"})
    worker_a = jsonl_source(path, page_size=2)
    await read_all(worker_a)  # worker A holds the old version
    write_jsonl(path, *({"id": f"new{n}", "fullName": "Y"} for n in range(3)))

    first = await jsonl_source(path, page_size=2).fetch(None, None)  # a run starts on B
    rest = await worker_a.fetch(first.cursor, None)  # and continues on A

    assert [c.item_id for c in first.contacts + rest.contacts] == ["new0", "new1", "new2"]


async def test_fetch_items_returns_current_records_by_id(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl", *({"id": str(n), "fullName": f"P{n}"} for n in range(5))
    )

    found = await jsonl_source(path).fetch_items(["1", "3", "missing"])

    assert [(c.item_id, c.fields[F.FULL_NAME]) for c in found] == [("1", "P1"), ("3", "P3")]


async def test_a_missing_file_is_unavailable_not_empty(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match="cannot read"):
        await jsonl_source(tmp_path / "absent.jsonl").fetch(None, None)


async def test_uid_is_kept_only_when_it_is_an_identity_key(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", {"id": "a", "uid": "u-a", "emails": ["a@x.test"]})
    by_email = FieldPolicy(allowed=frozenset({F.EMAILS}), identity=(IdentityKey.EMAIL,))

    [contact] = (await only_page(jsonl_source(path, by_email))).contacts

    assert contact.uid is None


def test_quarantine_records_carry_no_content_fields() -> None:
    # The model itself only has room for source, id and reason.
    assert set(Quarantined.__dataclass_fields__) == {"source", "item_id", "reason"}


# --- bounded memory: pages parsed from a sealed copy ----------------------------------


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
async def test_a_file_larger_than_a_spool_frame_comes_back_record_for_record(
    tmp_path: Path, kind: str
) -> None:
    # Multi-byte names every few bytes: some straddle the 64 KiB frames of the copy.
    rows = [{"id": f"r{n}", "fullName": f"Ünïcødé Person {n} 李雷 Ōta"} for n in range(6000)]
    if kind == "csv":
        path = tmp_path / "people.csv"
        lines = "".join(f"{r['id']},{r['fullName']}\n" for r in rows)
        path.write_bytes(b"\xef\xbb\xbf" + f"id,fullName\n{lines}".encode())
        source: CsvSource | JsonLinesSource = csv_source(path, page_size=700)
    else:
        path = write_jsonl(tmp_path / "people.jsonl", *rows)
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        source = jsonl_source(path, page_size=700)
    assert path.stat().st_size > 3 * 64 * 1024

    pages = await read_all(source)

    assert len(pages) == 9
    assert [(c.item_id, c.fields[F.FULL_NAME]) for p in pages for c in p.contacts] == [
        (r["id"], r["fullName"]) for r in rows
    ]


async def test_csv_pages_start_at_records_when_cells_hold_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "id,fullName,addresses\n"
        'a,A,"Street 1\n;;Way 2;Town;;1;DE"\n'  # lines 2-3
        'b,B,"Street 3\r\nStreet 4"\n'  # lines 4-5
        "c,C,,extra\n"  # line 6: quarantined
        'd,D,"Street 5\n\nStreet 6"\n'  # lines 7-9
        "e,E,\n"  # line 10
        'a,Again,"Street 7"\n'  # line 11: a duplicate of line 2, two pages later
    )

    pages = await read_all(csv_source(path, page_size=2))

    assert [[c.item_id for c in p.contacts] for p in pages] == [["a", "b"], ["d"], ["e"]]
    assert [q for p in pages for q in p.quarantined] == [
        Quarantined("people-csv", "line:6", "the row has 4 cells; the header has 3"),
        Quarantined("people-csv", "line:11", "duplicate id: line 2 has the same id"),
    ]
    d = pages[1].contacts[0]
    assert d.fields[F.ADDRESSES] == (Typed(";;Street 5;;;;"), Typed(";;Street 6;;;;"))


async def test_a_row_after_a_broken_multi_line_row_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        'id,fullName\np1,"Broken\nacross lines"stray\np2,Next\np3,Last\n', encoding="utf-8"
    )

    page = await only_page(csv_source(path))

    assert [c.item_id for c in page.contacts] == ["p2", "p3"]
    assert [q.item_id for q in page.quarantined] == ["line:2"]


async def test_a_duplicate_id_pages_later_names_the_line_of_the_first(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl",
        *({"id": str(n), "fullName": f"P{n}"} for n in range(7)),
        {"id": "1", "fullName": "Again"},
    )
    source = jsonl_source(path, page_size=3)

    pages = await read_all(source)
    found = await source.fetch_items(["1"])

    assert pages[-1].quarantined == [
        Quarantined("people-jsonl", "line:8", "duplicate id: line 2 has the same id")
    ]
    assert [(c.item_id, c.fields[F.FULL_NAME]) for c in found] == [("1", "P1")]


async def test_a_latin_1_file_is_quarantined_as_not_utf_8_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("id,fullName\np1,Jürgen Groß\np2,Ada\n".encode("latin-1"))

    page = await only_page(csv_source(path))

    assert [c.item_id for c in page.contacts] == ["p2"]
    assert page.quarantined == [Quarantined("people-csv", "line:2", "fullName is not valid UTF-8")]


async def test_a_json_line_too_long_to_hold_is_quarantined_and_the_next_is_read(
    tmp_path: Path,
) -> None:
    huge = "x" * (MAX_RECORD_BYTES + 10)
    path = write_jsonl(
        tmp_path / "p.jsonl",
        {"id": "a", "fullName": "A"},
        {"id": "b", "fullName": huge},
        {"id": "c", "fullName": "C"},
    )

    page = await only_page(jsonl_source(path))

    assert [c.item_id for c in page.contacts] == ["a", "c"]
    assert page.quarantined == [
        Quarantined("people-jsonl", "line:2", f"the line is longer than {MAX_RECORD_BYTES} bytes")
    ]


@pytest.mark.parametrize("cells", [1, 16])
async def test_a_csv_record_too_long_to_hold_makes_the_file_unavailable(
    tmp_path: Path, cells: int
) -> None:
    # Quoted line breaks keep each line short; the record still grows past the bound, in
    # one cell or spread over many.
    lines = MAX_RECORD_BYTES // 1000 // cells + 1
    cell = '"' + "\n".join(["y" * 1000] * lines) + '"'
    header = ",".join(f"c{n}" for n in range(cells))
    path = tmp_path / "people.csv"
    rows = f"p1,A,{','.join([cell] * cells)}\np2,B{',' * cells}\n"
    path.write_text(f"id,fullName,{header}\n{rows}")

    with pytest.raises(SourceUnavailable, match=r"record on line 2 is longer than \d+ bytes"):
        await csv_source(path).fetch(None, None)


async def test_a_csv_cell_longer_than_csvs_own_limit_is_read_whole(tmp_path: Path) -> None:
    photo = "data:image/jpeg;base64," + "A" * 200_000  # csv alone stops at 131,072
    path = tmp_path / "people.csv"
    path.write_text(f'id,fullName,photo\np1,A,"{photo}"\np2,B,\n')
    policy = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.PHOTO}))

    page = await only_page(csv_source(path, policy))

    assert [len(c.fields.get(F.PHOTO, "")) for c in page.contacts] == [len(photo), 0]
    assert page.quarantined == []


async def test_a_file_over_max_bytes_is_unavailable(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", *({"id": str(n)} for n in range(100)))
    source = JsonLinesSource(
        "people-jsonl", FileSourceSpec(path=str(path)), POLICY, max_bytes=path.stat().st_size - 1
    )

    with pytest.raises(SourceUnavailable, match=r"larger than \d+ bytes; raise the limit"):
        await source.fetch(None, None)


async def test_the_max_bytes_of_the_spec_bounds_the_file(tmp_path: Path) -> None:
    records = ({"id": str(n), "fullName": f"Person {n:040}"} for n in range(20_000))
    path = write_jsonl(tmp_path / "p.jsonl", *records)
    size = path.stat().st_size
    context = AdapterContext(POLICY, tmp_path, egress=None)
    spec = FileSourceSpec(path=str(path), max_bytes=size)
    fits = JsonLinesSource.from_spec("fits", spec, context)
    too_large = JsonLinesSource.from_spec(
        "too-large", spec.model_copy(update={"max_bytes": 2**20}), context
    )

    assert size > 2**20
    assert len((await fits.fetch(None, None)).contacts) == 500
    with pytest.raises(SourceUnavailable, match=rf"larger than {2**20} bytes"):
        await too_large.fetch(None, None)
    await fits.aclose()
    await too_large.aclose()


async def test_more_ids_than_the_index_may_hold_make_the_file_unavailable(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", *({"id": str(n)} for n in range(20_000)))
    spec = FileSourceSpec(path=str(path))
    source = JsonLinesSource("people-jsonl", spec, POLICY, max_index_bytes=64 * 1024)

    with pytest.raises(SourceUnavailable, match=r"more ids than an index .* split the file"):
        await source.fetch(None, None)


def open_copies(directory: Path) -> dict[str, bytes]:
    """What this process holds open under ``directory`` (unlinked files included), by fd."""
    held = {}
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).startswith(str(directory)):
                held[fd.name] = fd.read_bytes()
    return held


async def test_the_copy_on_disk_holds_nothing_in_clear_and_goes_with_the_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = tmp_path / "people.csv"
    path.write_text(f"id,fullName,note\np1,Erika Mustermann,{NOTE_MARKER}\n")
    source = csv_source(path)

    await only_page(source)
    [first] = open_copies(scratch).values()
    path.write_text(f"id,fullName,note\np1,Erika Musterfrau,{SALARY_MARKER}\n")
    await only_page(source)  # a changed file replaces the copy
    [second] = open_copies(scratch).values()
    await source.aclose()

    for copy in (first, second):
        assert copy
        for text in ("Erika", NOTE_MARKER, SALARY_MARKER):
            assert text.encode() not in copy
    assert open_copies(scratch) == {}


async def test_records_are_parsed_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = RecordMapper.mapped

    def recording(self: RecordMapper, record: RawRecord) -> Contact | Quarantined:
        threads.append(threading.current_thread().name)
        return real(self, record)

    monkeypatch.setattr(RecordMapper, "mapped", recording)
    path = write_jsonl(tmp_path / "p.jsonl", {"id": "a", "fullName": "A"})

    await only_page(jsonl_source(path))

    assert threads
    assert threading.main_thread().name not in threads
