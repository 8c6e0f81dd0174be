"""The vCard file source on temp files: splitting, ids, duplicates, cut-off cards, paging."""

from __future__ import annotations

from pathlib import Path

from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page, Quarantined
from contactsync_worker.sources.file_records import MAX_RECORD_BYTES
from contactsync_worker.sources.files import VcfSource

POLICY = FieldPolicy(
    allowed=frozenset({F.FULL_NAME, F.EMAILS, F.PHONES}), consent_property="X-CONSENT"
)
NOTE_MARKER = "NOTE-MARKER-do-not-sync"
UID_MARKER = "uid-marker-7c1e"


def card(*lines: str) -> str:
    return "".join(f"{line}\r\n" for line in ("BEGIN:VCARD", *lines, "END:VCARD"))


def source(path: Path, policy: FieldPolicy = POLICY, page_size: int = 500) -> VcfSource:
    return VcfSource("book", FileSourceSpec(path=str(path)), policy, page_size=page_size)


async def read_all(vcf: VcfSource) -> list[Page]:
    pages = [await vcf.fetch(None, None)]
    while not pages[-1].complete:
        pages.append(await vcf.fetch(pages[-1].cursor, None))
    await vcf.aclose()
    return pages


async def contacts_and_quarantine(
    path: Path, page_size: int = 500
) -> tuple[list[Contact], list[Quarantined]]:
    pages = await read_all(source(path, page_size=page_size))
    return [c for p in pages for c in p.contacts], [q for p in pages for q in p.quarantined]


def names(contacts: list[Contact]) -> list[object]:
    return [c.fields.get(F.FULL_NAME) for c in contacts]


async def test_many_cards_of_every_version_are_read_with_only_allowed_fields(
    tmp_path: Path,
) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            card(
                "VERSION:3.0",
                "UID:u-30",
                "FN:Ada Lovelace",
                "EMAIL;TYPE=INTERNET:ada@example.test",
                f"NOTE:{NOTE_MARKER}",
                "X-CONSENT:newsletter",
            )
            + card(
                "VERSION:4.0",
                "UID:u-40",
                "FN:Grace Hopper",
                "TEL;VALUE=uri;TYPE=cell:tel:+1-555-0100",
            )
            + card(
                "VERSION:2.1",
                "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Gro=C3=9F;J=C3=BCrgen",
                "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen Gro=C3=9F",
                "TEL;WORK;VOICE:+49 30 1234",
                "EMAIL;PREF;INTERNET:jg@example.test",
            )
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path)

    assert not quarantined
    assert names(contacts) == ["Ada Lovelace", "Grace Hopper", "Jürgen Groß"]
    assert [c.item_id for c in contacts[:2]] == ["u-30", "u-40"]
    assert contacts[0].consent == ("newsletter",)
    assert contacts[1].fields[F.PHONES][0].value == "+1-555-0100"  # type: ignore[union-attr]
    assert all(set(c.fields) <= POLICY.allowed for c in contacts)
    assert NOTE_MARKER not in repr(contacts)


async def test_lf_line_endings_a_bom_and_folded_lines_read_as_crlf_does(tmp_path: Path) -> None:
    text = card("VERSION:3.0", "UID:u1", "FN:Ada", "EMAIL:ada@example.test") + card(
        "VERSION:3.0", "FN:Zoë Ångström", "EMAIL:zoe@example.test"
    )
    crlf = tmp_path / "crlf.vcf"
    crlf.write_bytes(text.encode())
    lf = tmp_path / "lf.vcf"
    folded = text.replace("\r\n", "\n").replace("FN:Zoë Ångström", "FN:Zoë Å\n ngström")
    lf.write_bytes(b"\xef\xbb\xbf" + folded.encode())

    from_crlf, _ = await contacts_and_quarantine(crlf)
    from_lf, quarantined = await contacts_and_quarantine(lf)

    assert not quarantined
    assert from_lf == from_crlf
    assert names(from_lf) == ["Ada", "Zoë Ångström"]


async def test_cards_without_uid_keep_their_ids_when_a_re_export_reorders_and_refolds_them(
    tmp_path: Path,
) -> None:
    cards = [
        card("VERSION:3.0", "FN:Ada", "EMAIL:ada@example.test"),
        card("VERSION:3.0", "FN:Only A Name", "TEL;TYPE=CELL:+49 170 1"),
        card("VERSION:3.0", "FN:Bob", "EMAIL:bob@example.test"),
    ]
    first = tmp_path / "first.vcf"
    first.write_bytes("".join(cards).encode())
    again = tmp_path / "again.vcf"
    # Reordered, LF, a folded property, properties in another order within a card.
    reordered = [
        cards[2].replace("FN:Bob\r\nEMAIL:bob@example.test", "EMAIL:bob@example.test\r\nFN:Bob"),
        cards[0].replace("FN:Ada", "FN:A\r\n da"),
        cards[1],
    ]
    again.write_bytes("".join(reordered).replace("\r\n", "\n").encode())

    before, _ = await contacts_and_quarantine(first)
    after, quarantined = await contacts_and_quarantine(again)

    assert not quarantined
    ids = {c.fields[F.FULL_NAME]: c.item_id for c in before}
    assert {c.fields[F.FULL_NAME]: c.item_id for c in after} == ids
    assert len(set(ids.values())) == 3
    # With an email: the hash of the first identity value; with none: of the content.
    assert ids["Ada"].startswith("sha256:")
    assert ids["Only A Name"].startswith("card-sha256:")


async def test_an_edited_card_without_uid_or_identity_gets_another_id(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(card("VERSION:3.0", "FN:Only A Name", "TEL:+49 170 1").encode())
    [before], _ = await contacts_and_quarantine(path)
    path.write_bytes(card("VERSION:3.0", "FN:Only A Name", "TEL:+49 170 2").encode())
    [after], _ = await contacts_and_quarantine(path)

    assert before.item_id != after.item_id


async def test_the_id_is_the_uid_even_when_identity_does_not_match_on_uids(tmp_path: Path) -> None:
    policy = FieldPolicy(allowed=POLICY.allowed, identity=(IdentityKey.EMAIL,))
    path = tmp_path / "book.vcf"
    path.write_bytes(card("VERSION:3.0", "UID:u1", "FN:Ada", "EMAIL:ada@example.test").encode())

    [contact] = [c for p in await read_all(source(path, policy)) for c in p.contacts]

    assert contact.item_id == "u1"
    assert contact.uid is None  # not an identity key: as for a CardDAV card
    assert contact.carried_uid == "u1"


async def test_a_repeated_uid_keeps_the_first_card_and_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            card("VERSION:3.0", f"UID:{UID_MARKER}", "FN:First")  # lines 1-5
            + card("VERSION:3.0", "UID:other", "FN:Other")  # lines 6-10
            + card("VERSION:3.0", f"UID:{UID_MARKER}", "FN:Second")  # lines 11-15
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path, page_size=1)

    assert names(contacts) == ["First", "Other"]
    assert quarantined == [
        Quarantined("book", "line:11", "duplicate UID: the card on line 1 has the same UID")
    ]
    assert UID_MARKER not in repr(quarantined)


async def test_identical_cards_without_uid_are_one_contact_and_one_duplicate(
    tmp_path: Path,
) -> None:
    same = card("VERSION:3.0", "FN:Only A Name", "TEL:+49 170 1")
    path = tmp_path / "book.vcf"
    path.write_bytes((same + same).encode())

    contacts, quarantined = await contacts_and_quarantine(path)

    assert len(contacts) == 1
    assert [(q.item_id, q.reason) for q in quarantined] == [
        ("line:6", "duplicate card: the card on line 1 has the same content and no UID")
    ]


async def test_cut_off_cards_are_set_aside_by_their_first_line_and_the_rest_synced(
    tmp_path: Path,
) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut By Next\r\n"  # lines 1-3, no END
            + card("VERSION:3.0", "UID:u1", "FN:Whole")  # lines 4-8
            + "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Cut By EOF\r\n"  # lines 9-11
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path)

    assert names(contacts) == ["Whole"]
    assert [(q.item_id, q.reason) for q in quarantined] == [
        ("line:1", "the card has no END:VCARD before the card on line 4 begins"),
        ("line:9", "the card has no END:VCARD: the file ends first"),
    ]


async def test_a_card_the_parser_refuses_is_set_aside_with_its_reason_and_file_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            card("VERSION:3.0", "UID:u1", "FN:Fine")  # lines 1-5
            + card("VERSION:3.0", "FN:Broken", f"{NOTE_MARKER} without a colon")  # lines 6-10
            + card("VERSION:9.9", "FN:Future")  # lines 11-14
            + card("VERSION:3.0", "UID:u2", "FN:Also Fine")
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path)

    assert names(contacts) == ["Fine", "Also Fine"]
    assert [(q.item_id, q.reason) for q in quarantined] == [
        ("line:6", "line 9: not a property line"),
        ("line:11", "line 12 (VERSION): unsupported vCard version"),
    ]
    assert NOTE_MARKER not in repr(quarantined)


async def test_text_outside_cards_is_set_aside_once_per_run(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            "\r\nexported by something\r\nsecond stray line\r\n"  # lines 1-3
            + card("VERSION:3.0", "UID:u1", "FN:Fine")  # lines 4-8
            + "\r\n\r\nEND:VCARD\r\n"  # lines 9-11
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path)

    assert names(contacts) == ["Fine"]
    assert [(q.item_id, q.reason) for q in quarantined] == [
        ("line:2", "text outside BEGIN:VCARD and END:VCARD"),
        ("line:11", "text outside BEGIN:VCARD and END:VCARD"),
    ]


async def test_a_card_too_long_to_hold_is_set_aside_and_the_next_read(tmp_path: Path) -> None:
    photo = "A" * (MAX_RECORD_BYTES + 10)  # one physical line longer than a record may be
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            card("VERSION:3.0", "UID:big", "FN:Big", f"PHOTO;ENCODING=b;TYPE=JPEG:{photo}")
            + card("VERSION:3.0", "UID:u1", "FN:After")  # lines 6-10
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path)

    assert names(contacts) == ["After"]
    assert [(q.item_id, q.reason) for q in quarantined] == [
        ("line:1", f"the card is longer than {MAX_RECORD_BYTES} bytes")
    ]


async def test_pages_resume_at_their_card_and_together_list_every_card(tmp_path: Path) -> None:
    cards = [card("VERSION:3.0", f"UID:u{n}", f"FN:Person {n}") for n in range(7)]
    cards.insert(3, "BEGIN:VCARD\r\nFN:cut\r\n")  # a cut-off card among them
    path = tmp_path / "book.vcf"
    path.write_bytes("".join(cards).encode())

    pages = await read_all(source(path, page_size=3))
    whole, _ = await contacts_and_quarantine(path)

    assert len(pages) == 3
    assert [c for p in pages for c in p.contacts] == whole
    assert [c.item_id for c in whole] == [f"u{n}" for n in range(7)]
    assert [q.item_id for p in pages for q in p.quarantined] == ["line:16"]
    assert pages[0].fanout == [pages[0].cursor, pages[1].cursor]


async def test_fetch_items_finds_cards_by_uid_and_derived_id(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            card("VERSION:3.0", "UID:u1", "FN:Ada")
            + card("VERSION:3.0", "FN:Bob", "EMAIL:bob@example.test")
        ).encode()
    )
    contacts, _ = await contacts_and_quarantine(path)
    vcf = source(path)

    found = await vcf.fetch_items([contacts[1].item_id, "u1", "missing"])
    await vcf.aclose()

    assert names(found) == ["Ada", "Bob"]


async def test_exports_concatenated_with_a_bom_each_are_read_whole(tmp_path: Path) -> None:
    bom = "\ufeff"
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            bom
            + card("VERSION:3.0", "UID:u1", "FN:Ada")
            + bom
            + card("VERSION:2.1", "UID:u2", "FN:Bob")
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path, page_size=1)

    assert not quarantined
    assert names(contacts) == ["Ada", "Bob"]


async def test_a_card_holding_an_agent_card_is_set_aside_whole(tmp_path: Path) -> None:
    path = tmp_path / "book.vcf"
    path.write_bytes(
        (
            card(
                "VERSION:2.1",
                "FN:Boss",
                "AGENT:",
                "BEGIN:VCARD",
                "VERSION:2.1",
                "FN:Assistant",
                "TEL:+1 555 0199",
                "END:VCARD",
                "TEL:+1 555 0100",
            )  # lines 1-11
            + card(
                "VERSION:2.1",
                "FN:Other Boss",
                "AGENT:BEGIN:VCARD",
                "FN:Other Assistant",
                "END:VCARD",
            )  # lines 12-18
            + card("VERSION:3.0", "UID:u1", "FN:After")
        ).encode()
    )

    contacts, quarantined = await contacts_and_quarantine(path)

    assert names(contacts) == ["After"]
    assert [(q.item_id, q.reason) for q in quarantined] == [
        ("line:1", "line 5: nested BEGIN inside a vCard"),
        ("line:12", "line 18: content after END:VCARD"),
    ]
