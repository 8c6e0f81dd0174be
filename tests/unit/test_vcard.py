"""vCard parsing and serialization: minimization, consent, exact round trips, safe errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_api.spec import ConsentSpec
from contactsync_worker.contacts.consent import ConsentVerdict, judge
from contactsync_worker.contacts.model import Contact, FieldPolicy, FieldValue
from contactsync_worker.contacts.typed import Typed, texts
from contactsync_worker.contacts.vcard import MalformedVCard, parse_vcard, read_properties
from contactsync_worker.contacts.vcard_writer import Version, serialize_vcard

CORPUS = Path(__file__).parents[1] / "corpus" / "vcards"
WELL_FORMED = sorted(p for p in CORPUS.glob("*.vcf") if not p.name.startswith("broken-"))
BROKEN = sorted(CORPUS.glob("broken-*.vcf"))
EVERYTHING = FieldPolicy(allowed=frozenset(F), consent_property="X-CONSENT")
NOW = datetime(2026, 6, 1, tzinfo=UTC)
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
    "rkJggg=="
)


def parse(data: str | bytes, policy: FieldPolicy = EVERYTHING, item_id: str = "x.vcf") -> Contact:
    return parse_vcard(data, policy, source="book", item_id=item_id)


def corpus(name: str, policy: FieldPolicy = EVERYTHING) -> Contact:
    return parse((CORPUS / name).read_bytes(), policy, item_id=name)


def card(*lines: str, version: str = "4.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", *lines, "END:VCARD"]) + "\r\n"


def test_corpus_holds_enough_cards_of_each_kind() -> None:
    texts = [p.read_bytes() for p in WELL_FORMED]
    assert len(WELL_FORMED) + len(BROKEN) >= 12
    assert any(b"VERSION:3.0" in t for t in texts)
    assert any(b"VERSION:4.0" in t for t in texts)
    assert any(b"QUOTED-PRINTABLE" in t for t in texts)
    assert len(BROKEN) >= 2


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("path", WELL_FORMED, ids=lambda p: p.stem)
def test_allowed_fields_survive_parse_serialize_parse_exactly(path: Path, version: Version) -> None:
    first = parse(path.read_bytes())
    again = parse(serialize_vcard(first.fields, uid=first.uid, version=version))
    assert again.fields == first.fields
    assert again.uid == first.uid
    assert again.content_hash() == first.content_hash()


def test_several_emails_and_phones_keep_their_order() -> None:
    alice = corpus("alice-liddell-v3.vcf")
    assert texts(alice.fields[F.EMAILS]) == (
        "alice@wonderland.example",
        "alice.liddell@home.example",
    )
    assert texts(alice.fields[F.PHONES]) == ("+44 20 7946 0018", "+44 (20) 7946-0019")
    assert alice.fields[F.ORGANIZATION] == "Wonderland Ltd."
    assert alice.fields[F.DEPARTMENT] == "Research & Development"
    assert texts(alice.fields[F.ADDRESSES]) == (
        ";;1 Rabbit Hole Lane;Oxford;Oxfordshire;OX1 1AA;United Kingdom",
    )
    assert alice.fields[F.ADDITIONAL_NAMES] == ("Pleasance",)
    assert alice.fields[F.CATEGORIES] == ("Friends", "Wonderland")


def test_quoted_printable_in_latin1_and_utf8_with_soft_line_breaks_decodes() -> None:
    juergen = corpus("juergen-gross-v3-qp.vcf")
    assert juergen.fields[F.FULL_NAME] == "Jürgen Groß"
    assert juergen.fields[F.FAMILY_NAME] == "Groß"
    assert juergen.fields[F.DEPARTMENT] == "Geschäftsführung"
    assert texts(juergen.fields[F.ADDRESSES]) == (
        ";;Straße des 17. Juni 135;Berlin;;10623;Deutschland",
    )


def test_quoted_printable_soft_breaks_join_even_when_the_header_itself_was_folded() -> None:
    card = (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Caf\r\n"
        b"NOTE;ENCODING=QUOTED-\r\n PRINTABLE;CHARSET=UTF-8:caf=C3=\r\n=A9 au =\r\nlait\r\n"
        b"END:VCARD\r\n"
    )
    policy = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.NOTE}))
    contact = parse_vcard(card, policy, source="s", item_id="i")
    assert contact.fields[F.NOTE] == "café au lait"


def test_a_value_ending_in_equals_is_not_joined_unless_quoted_printable() -> None:
    card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x=\r\nNOTE:y\r\nEND:VCARD\r\n"
    policy = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.NOTE}))
    contact = parse_vcard(card, policy, source="s", item_id="i")
    assert (contact.fields[F.FULL_NAME], contact.fields[F.NOTE]) == ("x=", "y")


def test_folded_lines_unfold_even_inside_a_utf8_sequence() -> None:
    zoe = corpus("zoe-angstrom-v4-folded.vcf")
    assert zoe.fields[F.FULL_NAME] == "Zoë Ångström"
    title = zoe.fields[F.TITLE]
    assert isinstance(title, str)
    assert title.endswith("de långa, mycket långa titlarna")
    taro = corpus("yamada-taro-v4-cjk.vcf")
    assert taro.fields[F.FULL_NAME] == "山田 太郎"
    assert taro.fields[F.NOTE] == "山田太郎は東京本社の営業部に所属しています。連絡は平日のみ。"


def test_vcard_21_bare_parameters_lf_endings_and_tab_folds() -> None:
    ivan = corpus("ivan-outlook-v21.vcf")
    assert ivan.fields[F.FAMILY_NAME] == "Петров"
    assert ivan.fields[F.FULL_NAME] == "Иван Петров"
    assert ivan.fields[F.TITLE] == "Senior Engineer"
    assert texts(ivan.fields[F.PHONES]) == ("+7 495 123-45-67", "+7 916 765-43-21")


def test_tel_uri_becomes_the_plain_number() -> None:
    zoe = corpus("zoe-angstrom-v4-folded.vcf")
    assert texts(zoe.fields[F.PHONES]) == ("+46-8-123-456-78", "+46-8-987-654-32;ext=102")


def test_escaped_separators_stay_inside_their_values() -> None:
    judy = corpus("judy-escapes-v4.vcf")
    assert judy.fields[F.FULL_NAME] == "Hopps, Judy"
    assert judy.fields[F.ORGANIZATION] == "ZPD; Precinct One"
    assert judy.fields[F.NOTE] == (
        "First line\nSecond line; with semicolon, comma and \\ backslash"
    )
    assert judy.fields[F.CATEGORIES] == ("Police", "Friends, close", "Zootopia")
    assert texts(judy.fields[F.ADDRESSES]) == (
        ";Apt 4\\, Floor 2;12 Burrow Rd,Bunnyburrow;Zootopia;;ZT-1;",
        ";;1 Precinct Plaza;Zootopia;;ZT-9;",
    )
    assert judy.fields[F.BIRTHDAY] == "circa spring"


def test_inline_photo_in_3_0_and_data_uri_in_4_0_are_the_same_value() -> None:
    bob = corpus("bob-builder-v3-photo.vcf")
    carol = corpus("carol-danvers-v4-photo-uri.vcf")
    assert bob.fields[F.PHOTO] == f"data:image/png;base64,{PNG}"
    assert carol.fields[F.PHOTO] == bob.fields[F.PHOTO]


def test_photo_uri_value_is_kept() -> None:
    dave = corpus("dave-lister-v3-photo-url.vcf")
    assert dave.fields[F.PHOTO] == "https://reddwarf.example/crew/lister.jpg"


def test_photo_is_written_as_base64_in_3_0_and_as_data_uri_in_4_0() -> None:
    fields = {F.FULL_NAME: "Bob", F.PHOTO: f"data:image/png;base64,{PNG}"}
    v3 = serialize_vcard(fields, version="3.0")
    v4 = serialize_vcard(fields, version="4.0")
    assert "PHOTO;ENCODING=b;TYPE=PNG:" in v3
    # The comma escaped, so that a server reading by 3.0's rules keeps the payload.
    assert "PHOTO:data:image/png;base64\\," in v4


def test_a_4_0_uri_escapes_its_commas_and_reads_back_as_it_was() -> None:
    # vobject-based servers (Radicale) cut an unescaped comma's value short.
    url = "https://carol.example/profile?tab=about,contact"
    fields: dict[F, FieldValue] = {
        F.FULL_NAME: "Carol",
        F.URLS: (Typed(url),),
        F.PHOTO: f"data:image/png;base64,{PNG}",
    }
    card = serialize_vcard(fields, version="4.0")
    assert "URL:https://carol.example/profile?tab=about\\,contact" in card
    assert parse(card).fields == fields


HOSTILE_PHOTOS = (
    # A payload that ends the line and starts properties of its own.
    f"data:image/png;base64,{PNG}\r\nX-CONTACTSYNC-ID:forged\r\nTITLE:Injected",
    # The same through the media type, and with bare line feeds and carriage returns.
    f"data:image/png\nTITLE:Injected;base64,{PNG}",
    f"data:image/png;base64,{PNG}\rTITLE:Injected",
    # Not an image, or not base64.
    f"data:text/plain;base64,{PNG}",
    "data:image/png;base64,not base64!",
)


@pytest.mark.parametrize("version", ["3.0", "4.0"])
@pytest.mark.parametrize("photo", HOSTILE_PHOTOS)
def test_no_photo_value_adds_a_property_to_the_card(photo: str, version: Version) -> None:
    card = serialize_vcard(
        {F.FULL_NAME: "Eve", F.PHOTO: photo}, uid="c1", version=version, extra=[("X-OWN", "1")]
    )
    names = [
        line.split(":", 1)[0].split(";", 1)[0] for line in card.replace("\r\n ", "").split("\r\n")
    ]
    assert names == [
        "BEGIN",
        "VERSION",
        "UID",
        "FN",
        *(["N"] if version == "3.0" else []),
        "PHOTO",
        "X-OWN",
        "END",
        "",
    ]
    assert read_properties(card, ["X-CONTACTSYNC-ID", "TITLE"]) == {}


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_line_breaks_in_any_text_value_stay_inside_it(version: Version) -> None:
    hostile = "a\r\nX-CONTACTSYNC-ID:forged\rTITLE:x\nNOTE:y;z,w"
    fields: dict[F, FieldValue] = {
        field: hostile for field in (F.FULL_NAME, F.NICKNAME, F.ORGANIZATION, F.TITLE, F.NOTE)
    }
    fields[F.EMAILS] = (hostile,)
    card = serialize_vcard(fields, uid=hostile, version=version)
    assert read_properties(card, ["X-CONTACTSYNC-ID"]) == {}
    parsed = parse_vcard(card, FieldPolicy(allowed=frozenset(fields)), source="s", item_id="i")
    assert parsed.fields[F.NOTE] == hostile.replace("\r\n", "\n").replace("\r", "\n")


def test_missing_uid_gives_no_uid() -> None:
    frank = corpus("frank-no-uid-v3.vcf")
    assert frank.uid is None
    assert frank.item_id == "frank-no-uid-v3.vcf"
    assert "UID" not in serialize_vcard(frank.fields, uid=frank.uid)


def test_duplicate_uids_stay_two_contacts_with_distinct_identities() -> None:
    grace = corpus("duplicate-uid-grace.vcf")
    heidi = corpus("duplicate-uid-heidi.vcf")
    keys = (IdentityKey.EMAIL, IdentityKey.UID)
    assert grace.uid == heidi.uid == "shared-uid-0001"
    assert grace.item_id != heidi.item_id
    assert grace.identity(keys) == ("email:grace@navy.example", "uid:shared-uid-0001")
    assert heidi.identity(keys) == ("email:heidi@runway.example", "uid:shared-uid-0001")


def test_identity_of_a_parsed_contact_uses_normalized_values() -> None:
    alice = corpus("alice-liddell-v3.vcf")
    assert alice.identity((IdentityKey.PHONE, IdentityKey.UID, IdentityKey.EMAIL)) == (
        "phone:+442079460018",
        "phone:+442079460019",
        "uid:7d0c5e3a-3f1b-4a8e-9f0e-alice-0001",
        "email:alice@wonderland.example",
        "email:alice.liddell@home.example",
    )


# --- minimization ------------------------------------------------------------------------

# Values of erin-x-properties.vcf outside fullName and emails: NOTE, X-*, TEL, N, consent.
SENSITIVE = (
    "Diabetic",
    "insulin",
    "confidential",
    "reception",
    "twitter",
    "570 555",
    "Hannon;",
    "newsletter",
    "phonebook",
)


def test_only_allowed_fields_leave_the_parser() -> None:
    policy = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS}))
    erin = corpus("erin-x-properties.vcf", policy)
    assert set(erin.fields) == {F.FULL_NAME, F.EMAILS}
    assert erin.consent is None  # consent not asked for: not read
    assert erin.uid == "erin-hannon-0005"  # the identity keys include UID by default
    serialized = serialize_vcard(erin.fields, uid=erin.uid)
    for text in (repr(erin), serialized):
        for value in SENSITIVE:
            assert value not in text
    assert "X-" not in serialized
    assert "NOTE" not in serialized


def test_uid_is_read_only_when_an_identity_key_needs_it() -> None:
    policy = FieldPolicy(allowed=frozenset({F.EMAILS}), identity=(IdentityKey.EMAIL,))
    assert corpus("alice-liddell-v3.vcf", policy).uid is None


def test_photo_not_allowed_is_neither_decoded_nor_kept() -> None:
    policy = FieldPolicy(allowed=frozenset({F.FULL_NAME}))
    bob = corpus("bob-builder-v3-photo.vcf", policy)
    assert set(bob.fields) == {F.FULL_NAME}
    assert PNG[:20] not in repr(bob)
    # A broken photo is no reason to quarantine a card whose photo is not wanted anyway.
    mona = corpus("broken-bad-photo.vcf", policy)
    assert mona.fields == {F.FULL_NAME: "Mona Photo"}


def test_a_disallowed_field_is_dropped_even_when_its_property_feeds_an_allowed_one() -> None:
    policy = FieldPolicy(allowed=frozenset({F.GIVEN_NAME, F.DEPARTMENT}))
    alice = corpus("alice-liddell-v3.vcf", policy)
    assert alice.fields == {F.GIVEN_NAME: "Alice", F.DEPARTMENT: "Research & Development"}
    assert "Liddell" not in serialize_vcard(alice.fields)


# --- consent -----------------------------------------------------------------------------


def test_consent_values_from_every_occurrence_of_the_property() -> None:
    erin = corpus("erin-x-properties.vcf")
    assert erin.consent == ("directory,newsletter", "phonebook")
    every = ConsentSpec(purposes=["directory", "newsletter", "phonebook"])
    assert judge(erin.consent, every, NOW) is ConsentVerdict.GRANTED


def test_consent_absent_is_none_and_empty_is_missing() -> None:
    assert corpus("alice-liddell-v3.vcf").consent is None
    empty = parse(card("FN:A", "X-CONSENT:")).consent
    assert empty == ("",)
    assert judge(empty, ConsentSpec(), NOW) is ConsentVerdict.MISSING


def test_consent_property_name_is_case_insensitive_and_escaped_commas_separate() -> None:
    policy = FieldPolicy(allowed=frozenset({F.FULL_NAME}), consent_property="x-consent")
    contact = parse(card("FN:A", "x-Consent:directory\\, phonebook , "), policy)
    assert contact.consent == ("directory, phonebook , ",)
    both = ConsentSpec(purposes=["directory", "phonebook"])
    assert judge(contact.consent, both, NOW) is ConsentVerdict.GRANTED


@pytest.mark.parametrize(
    "line",
    [
        "X-CONSENT:withdrawn",
        "X-CONSENT:Opt-Out",
        "X-CONSENT;TYPE=text:revoked",
        "X-CONSENT:directory\\,withdrawn",
        "X-CONSENT:directory=withdrawn",
    ],
)
def test_consent_that_says_no_is_read_as_no(line: str) -> None:
    consent = parse(card("FN:A", line)).consent
    assert judge(consent, ConsentSpec(purposes=["directory"]), NOW) is ConsentVerdict.WITHDRAWN


@pytest.mark.parametrize(
    "line",
    [
        "X-CONSENT:directory=granted\\;until=2027-01-01",
        "X-CONSENT:directory=granted;until=2027-01-01",
    ],
)
def test_structured_consent_reads_with_or_without_escaped_semicolons(line: str) -> None:
    consent = parse(card("FN:A", line)).consent
    policy = ConsentSpec(purposes=["directory"])
    assert judge(consent, policy, NOW) is ConsentVerdict.GRANTED
    assert judge(consent, policy, datetime(2027, 1, 1, tzinfo=UTC)) is ConsentVerdict.EXPIRED


# --- malformed cards ---------------------------------------------------------------------


def _values_of(text: str) -> set[str]:
    """Words of every value (or of a line without one), for checking messages leak none."""
    words: set[str] = set()
    for line in text.splitlines():
        if line.split(":", 1)[0] in {"BEGIN", "END", "VERSION"}:
            continue
        value = line.split(":", 1)[1] if ":" in line else line
        words |= {w for w in re.split(r"[^\w@.+-]+", value) if len(w) >= 4}
    return words - {"VCARD"}


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_corpus_card_raises_without_any_value_in_the_message(path: Path) -> None:
    with pytest.raises(MalformedVCard) as caught:
        parse(path.read_bytes())
    message = str(caught.value)
    assert message
    leaked = {word for word in _values_of(path.read_text("utf-8")) if word in message}
    assert not leaked, message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Secret Name\r\n", "missing END:VCARD"),
        ("FN:Secret Name\r\n", "line 1: expected BEGIN:VCARD"),
        (card("FN:Secret", "BEGIN:VCARD", "END:VCARD"), "line 4: nested BEGIN"),
        (card("FN:Secret") + card("FN:Other"), "line 5: content after END:VCARD"),
        (card("FN:Secret", "Secret Person lives here"), "line 4: not a property line"),
        (card('FN;X="Secret:Name'), "line 3: unterminated quoted parameter"),
        (card("Secret Person:x"), "line 3: invalid property name"),
        (card("FN;=Secret:Name"), "line 3 (FN): empty parameter name"),
        (card("PHOTO:data:image/png;base64"), "line 3 (PHOTO): invalid data URI"),
        (card("FN;CHARSET=x-Secret;ENCODING=QUOTED-PRINTABLE:Name"), "unknown charset"),
    ],
)
def test_malformed_card_says_what_and_where(text: str, expected: str) -> None:
    with pytest.raises(MalformedVCard, match=re.escape(expected)) as caught:
        parse(text)
    assert "Secret" not in str(caught.value)


def test_unknown_properties_are_ignored_not_errors() -> None:
    contact = parse(card("FN:A", "X-WHATEVER;FOO=bar:baz", "GEO:geo:1,2", "item3.X-ABLabel:x"))
    assert contact.fields == {F.FULL_NAME: "A"}


# --- serialization -----------------------------------------------------------------------


def test_serialized_lines_are_folded_at_75_octets_and_end_in_crlf() -> None:
    fields = {F.FULL_NAME: "Zoë Ångström " * 12, F.NOTE: "山田太郎" * 40}
    text = serialize_vcard(fields, uid="u-1")
    assert text.endswith("END:VCARD\r\n")
    for line in text.split("\r\n"):
        assert len(line.encode("utf-8")) <= 75
    assert parse(text).fields == {F.FULL_NAME: fields[F.FULL_NAME].strip(), F.NOTE: fields[F.NOTE]}


def test_required_properties_are_written_even_without_their_fields() -> None:
    v3 = serialize_vcard({F.EMAILS: ("a@b.example",)}, version="3.0")
    assert "\r\nFN:\r\n" in v3
    assert "\r\nN:;;;;\r\n" in v3
    assert parse(v3).fields == {F.EMAILS: (Typed("a@b.example"),)}


def test_extra_properties_are_appended_and_readable() -> None:
    text = serialize_vcard(
        {F.FULL_NAME: "A"}, uid="id-1", extra=[("X-CONTACTSYNC-ID", "id-1"), ("X-K", "a,b")]
    )
    assert read_properties(text, ["x-contactsync-id", "X-K"]) == {
        "X-CONTACTSYNC-ID": ["id-1"],
        "X-K": ["a,b"],
    }
    assert parse(text).fields == {F.FULL_NAME: "A"}


def test_free_text_birthday_is_marked_as_text_in_4_0() -> None:
    assert "BDAY;VALUE=text:circa spring" in serialize_vcard({F.BIRTHDAY: "circa spring"})
    assert "BDAY:1985-04-12" in serialize_vcard({F.BIRTHDAY: "1985-04-12"})
