"""Types, preference and labels of vCard values: each form real exports use is read, and
each is written back in the destination's vCard version without letting a value shape the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import Contact, FieldPolicy, FieldValue
from contactsync_worker.contacts.typed import Typed, as_typed
from contactsync_worker.contacts.vcard import parse_vcard, read_properties
from contactsync_worker.contacts.vcard_writer import Version, serialize_vcard

CORPUS = Path(__file__).parents[1] / "corpus" / "vcards"
TYPED = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS, F.PHONES, F.ADDRESSES, F.URLS}))


def parse(data: str | bytes) -> Contact:
    return parse_vcard(data, TYPED, source="book", item_id="x.vcf")


def corpus(name: str) -> Contact:
    return parse((CORPUS / name).read_bytes())


def card(*lines: str, version: str = "4.0") -> str:
    return "\r\n".join(["BEGIN:VCARD", f"VERSION:{version}", "FN:A", *lines, "END:VCARD"]) + "\r\n"


def unfolded(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


# --- reading -----------------------------------------------------------------------------


def test_vcard_3_types_and_pref_as_a_type() -> None:
    alice = corpus("alice-liddell-v3.vcf")
    assert alice.fields[F.EMAILS] == (
        Typed("alice@wonderland.example", ("work",), pref=1),
        Typed("alice.liddell@home.example", ("home",)),
    )
    assert alice.fields[F.PHONES] == (
        Typed("+44 20 7946 0018", ("cell", "voice"), pref=1),
        Typed("+44 (20) 7946-0019", ("voice", "work")),
    )
    assert alice.fields[F.ADDRESSES] == (
        Typed(";;1 Rabbit Hole Lane;Oxford;Oxfordshire;OX1 1AA;United Kingdom", ("work",), 1),
    )
    assert alice.fields[F.URLS] == (Typed("https://alice.example/", ("home",)),)


def test_repeated_type_parameters_and_a_comma_list_are_the_same() -> None:
    repeated = parse(card("EMAIL;TYPE=work;TYPE=pref:a@b.example", version="3.0"))
    listed = parse(card('EMAIL;TYPE="WORK,PREF":a@b.example', version="3.0"))
    assert (
        repeated.fields
        == listed.fields
        == {
            F.FULL_NAME: "A",
            F.EMAILS: (Typed("a@b.example", ("work",), pref=1),),
        }
    )


def test_vcard_21_bare_parameters_are_types() -> None:
    ivan = corpus("ivan-outlook-v21.vcf")
    assert ivan.fields[F.PHONES] == (
        Typed("+7 495 123-45-67", ("voice", "work")),
        Typed("+7 916 765-43-21", ("cell",)),
    )
    assert ivan.fields[F.EMAILS] == (Typed("ivan.petrov@example.ru", pref=1),)


def test_vcard_4_quoted_type_lists_pref_ranks_and_tel_uris_with_extensions() -> None:
    zoe = corpus("zoe-angstrom-v4-folded.vcf")
    assert zoe.fields[F.PHONES] == (
        Typed("+46-8-123-456-78", ("cell", "voice"), pref=1),
        Typed("+46-8-987-654-32;ext=102", ("work",)),
    )
    assert zoe.fields[F.EMAILS] == (
        Typed("zoe.angstrom@universitet.example", ("work",), pref=1),
        Typed("zoe@ångström.example", ("home",)),
    )


@pytest.mark.parametrize(("param", "pref"), [("PREF=7", 7), ("PREF=0", None), ("PREF=x", None)])
def test_a_pref_outside_1_to_100_is_no_preference(param: str, pref: int | None) -> None:
    contact = parse(card(f"EMAIL;{param}:a@b.example"))
    assert contact.fields[F.EMAILS] == (Typed("a@b.example", pref=pref),)


def test_an_address_label_parameter_is_its_label_in_either_escaping() -> None:
    zoe = corpus("zoe-angstrom-v4-folded.vcf")
    [address] = as_typed(zoe.fields[F.ADDRESSES])
    assert address.label == "Institutionen för fysik\nBox 516\n751 20 Uppsala"
    rfc6868 = parse(card("ADR;LABEL=\"^'Home^' ^^ 1^nBerlin\":;;Weg 1;Berlin;;;"))
    assert rfc6868.fields[F.ADDRESSES] == (Typed(";;Weg 1;Berlin;;;", label='"Home" ^ 1\nBerlin'),)


def test_apple_groups_give_types_for_apple_names_and_labels_for_the_rest() -> None:
    mia = corpus("mia-wallace-v3-apple-labels.vcf")
    assert mia.fields[F.EMAILS] == (
        Typed("mia@slims.example", ("other",), pref=1),
        Typed("mia.w@home.example", ("home",)),
    )
    assert mia.fields[F.PHONES] == (
        Typed("+1 (310) 555-0142", ("cell",), pref=1),
        Typed("+1 310 555 0143", ("cell", "iphone", "voice")),
        Typed("+1 310 555 0144", ("fax", "home")),
        Typed("+1 310 555 0145", label="Agent"),
    )
    assert mia.fields[F.URLS] == (Typed("https://mia.example/", pref=1, label="HomePage"),)
    erin = corpus("erin-x-properties.vcf")
    assert erin.fields[F.EMAILS] == (Typed("erin@dunder.example", ("work",)),)
    assert erin.fields[F.PHONES] == (Typed("+1 570 555 0142", label="reception"),)


def test_a_label_is_read_only_for_its_own_group_and_a_lone_label_is_ignored() -> None:
    contact = parse(
        card(
            "item1.TEL:+1 555 0100",
            "ITEM2.X-ABLabel:Other group",
            "item2.EMAIL:a@b.example",
            "item9.X-ABLabel:Nobody's",
            "TEL:+1 555 0101",
        )
    )
    assert contact.fields[F.PHONES] == (Typed("+1 555 0100"), Typed("+1 555 0101"))
    assert contact.fields[F.EMAILS] == (Typed("a@b.example", label="Other group"),)


def test_internet_and_types_that_are_no_token_are_not_kept() -> None:
    contact = parse(card('EMAIL;TYPE=INTERNET,"two words",x-own:a@b.example', version="3.0"))
    assert contact.fields[F.EMAILS] == (Typed("a@b.example", ("x-own",)),)


# --- writing -----------------------------------------------------------------------------

RANKED: dict[F, FieldValue] = {
    F.FULL_NAME: "A",
    F.EMAILS: (
        Typed("first@example.org", ("work",), pref=1),
        Typed("second@example.org", ("home",), pref=2),
        Typed("third@example.org"),
    ),
}


def test_vcard_4_writes_type_lists_and_pref_ranks_and_reads_them_back_exactly() -> None:
    text = serialize_vcard(RANKED, version="4.0")
    assert "EMAIL;TYPE=work;PREF=1:first@example.org" in unfolded(text)
    assert "EMAIL;TYPE=home;PREF=2:second@example.org" in unfolded(text)
    assert parse(text).fields == RANKED


def test_vcard_3_marks_the_best_ranked_values_pref_and_has_no_lower_ranks() -> None:
    text = serialize_vcard(RANKED, version="3.0")
    assert "EMAIL;TYPE=work,pref:first@example.org" in unfolded(text)
    assert "EMAIL;TYPE=home:second@example.org" in unfolded(text)
    assert parse(text).fields[F.EMAILS] == (
        Typed("first@example.org", ("work",), pref=1),
        Typed("second@example.org", ("home",)),
        Typed("third@example.org"),
    )


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_labels_go_in_apple_groups_and_an_address_label_in_its_parameter(version: Version) -> None:
    fields: dict[F, FieldValue] = {
        F.FULL_NAME: "A",
        F.PHONES: (Typed("+1 555 0100", ("work",), label="Reception"), Typed("+1 555 0101")),
        F.URLS: (Typed("https://a.example/", label="Blog"),),
        F.ADDRESSES: (Typed(";;Weg 1;Berlin;;;", ("home",), label='A "B"\nWeg 1'),),
    }
    lines = unfolded(serialize_vcard(fields, version=version))
    assert "item1.TEL;TYPE=work:+1 555 0100" in lines
    assert "item1.X-ABLabel:Reception" in lines
    assert "TEL:+1 555 0101" in lines
    assert "item2.URL:https://a.example/" in lines
    assert "item2.X-ABLabel:Blog" in lines
    assert "ADR;TYPE=home;LABEL=\"A ^'B^'^nWeg 1\":;;Weg 1;Berlin;;;" in lines  # RFC 6868
    assert parse(serialize_vcard(fields, version=version)).fields == fields


def test_vcard_4_writes_a_number_that_is_a_tel_uri_as_one_and_any_other_as_text() -> None:
    fields: dict[F, FieldValue] = {
        F.PHONES: (Typed("+46-8-987-654-32;ext=102", ("work",)), Typed("+1 555 0100;ext=7")),
    }
    v4 = unfolded(serialize_vcard(fields, version="4.0"))
    assert "TEL;VALUE=uri;TYPE=work:tel:+46-8-987-654-32;ext=102" in v4
    assert "TEL:+1 555 0100\\;ext=7" in v4
    assert "TEL;TYPE=work:+46-8-987-654-32\\;ext=102" in unfolded(
        serialize_vcard(fields, version="3.0")
    )
    for version in ("3.0", "4.0"):
        assert parse(serialize_vcard(fields, version=version)).fields == fields


HOSTILE = 'x\r\nX-CONTACTSYNC-ID:forged\rTITLE:Injected\nitem1.EMAIL:evil@example.org"^;:,'


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_no_label_adds_a_property_or_a_parameter_to_the_card(version: Version) -> None:
    fields: dict[F, FieldValue] = {
        F.FULL_NAME: "A",
        F.PHONES: (Typed("+1 555 0100", label=HOSTILE),),
        F.ADDRESSES: (Typed(";;Weg 1;;;;", label=HOSTILE),),
    }
    text = serialize_vcard(fields, uid="c1", version=version)
    names = [line.split(":", 1)[0].split(";", 1)[0] for line in unfolded(text)]
    assert names == [
        "BEGIN",
        "VERSION",
        "UID",
        "FN",
        *(["N"] if version == "3.0" else []),
        "item1.TEL",
        "item1.X-ABLabel",
        "ADR",
        "END",
        "",
    ]
    assert read_properties(text, ["X-CONTACTSYNC-ID", "TITLE", "EMAIL"]) == {}
    expected = HOSTILE.replace("\r\n", "\n").replace("\r", "\n")
    parsed = parse(text).fields
    assert [t.label for t in parsed[F.PHONES] if isinstance(t, Typed)] == [expected]
    assert [t.label for t in parsed[F.ADDRESSES] if isinstance(t, Typed)] == [expected]
