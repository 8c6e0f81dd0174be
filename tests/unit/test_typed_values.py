"""Typed values in the model: normalization, the JSON shape, merging across sources, and
change detection."""

from __future__ import annotations

import pytest

from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_worker.contacts.merge import merge_fields
from contactsync_worker.contacts.model import Contact, normalize_phone
from contactsync_worker.contacts.typed import InvalidTyping, Typed, as_typed, texts


def test_types_are_lower_case_sorted_and_unique_and_pref_as_a_type_is_preference_one() -> None:
    typed = Typed("a@b.example", ("WORK", "Internet", "work", "pref"))
    assert typed == Typed("a@b.example", ("internet", "work"), pref=1)
    assert Typed("x", label="  ").label is None


@pytest.mark.parametrize(
    ("types", "pref"),
    [(("two words",), None), (("work;x",), None), (("",), None), ((), 0), ((), 101), ((), True)],
)
def test_a_type_or_preference_that_cannot_be_written_is_refused_without_the_value(
    types: tuple[str, ...], pref: object
) -> None:
    with pytest.raises(InvalidTyping) as caught:
        Typed("secret@example.org", types, pref)  # type: ignore[arg-type]
    assert "secret" not in str(caught.value)


def test_json_shape_has_every_key() -> None:
    assert Typed("+49 30 1", ("cell",), 1, "Desk").as_json() == {
        "value": "+49 30 1",
        "types": ["cell"],
        "pref": 1,
        "label": "Desk",
    }
    assert Typed("x").as_json() == {"value": "x", "types": [], "pref": None, "label": None}


def test_plain_text_is_a_value_without_types_and_texts_read_both() -> None:
    assert as_typed(("a", Typed("b", ("home",)))) == (Typed("a"), Typed("b", ("home",)))
    assert as_typed("a") == (Typed("a"),)
    assert texts((Typed("a"), "b")) == ("a", "b")
    assert as_typed(None) == ()
    assert texts(None) == ()


def contact(source: str, **fields: object) -> Contact:
    return Contact(source, f"{source}-1", {F(k): v for k, v in fields.items()})  # type: ignore[misc]


def test_the_same_value_from_two_sources_keeps_every_type_the_best_preference_and_first_label() -> (
    None
):
    hr = contact(
        "hr",
        emails=(Typed("Erika@Example.org", ("work",)),),
        phones=(Typed("+49 30 123", ("voice", "work"), label="Desk"),),
    )
    crm = contact(
        "crm",
        emails=(Typed("erika@example.org", ("home",), pref=1),),
        phones=(Typed("+49 (30) 123", ("cell",), pref=2, label="Mobile"),),
    )
    merged = merge_fields([crm, hr], ["hr", "crm"], [F.EMAILS, F.PHONES])
    assert merged == {
        F.EMAILS: (Typed("Erika@Example.org", ("home", "work"), pref=1),),
        F.PHONES: (Typed("+49 30 123", ("cell", "voice", "work"), pref=2, label="Desk"),),
    }


def test_a_type_change_is_a_content_change_and_plain_text_hashes_as_an_untyped_value() -> None:
    cell = contact("s", phones=(Typed("+1 555", ("cell",)),))
    work = contact("s", phones=(Typed("+1 555", ("work",)),))
    preferred = contact("s", phones=(Typed("+1 555", ("cell",), pref=1),))
    labelled = contact("s", phones=(Typed("+1 555", ("cell",), label="Desk"),))
    hashes = {c.content_hash() for c in (cell, work, preferred, labelled)}
    assert len(hashes) == 4
    assert contact("s", phones=("+1 555",)).content_hash() == (
        contact("s", phones=(Typed("+1 555"),)).content_hash()
    )


def test_identity_reads_the_values_of_typed_fields_and_keeps_an_extension_apart() -> None:
    zoe = contact("s", phones=(Typed("+46-8-987-654-32;ext=102", ("work",)),))
    assert zoe.identity((IdentityKey.PHONE,)) == ("phone:+46898765432;ext=102",)
    assert normalize_phone("+46 8 987 654 32;EXT=102") == "+46898765432;ext=102"
    assert normalize_phone("030 1234") == "0301234"
