"""Emails and phones that are not what their field says, checked once for every source."""

from __future__ import annotations

import pytest

from contactsync_api.contact_values import InvalidValues, PhoneFormat, PhoneValuesSpec, ValuesSpec
from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_worker.contacts.model import Contact, FieldValue
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.contacts.value_checks import (
    INVALID_VALUES,
    NO_IDENTITY,
    check_page,
    checked_values,
)
from contactsync_worker.contacts.value_syntax import checked_phone, is_email

KEYS = (IdentityKey.EMAIL, IdentityKey.UID)
AS_WRITTEN = PhoneValuesSpec()
GERMAN = PhoneValuesSpec(normalize=PhoneFormat.AS_WRITTEN, default_region="DE")
E164_DE = PhoneValuesSpec(normalize=PhoneFormat.E164, default_region="DE")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("ada@example.org", True),
        ("ADA@Example.ORG", True),
        (" ada@example.org ", True),
        ("zoe@ångström.example", True),
        ("j.gross+news@example.test", True),  # the test domain is the name test directories get
        ("not-an-email", False),
        ("ada@", False),
        ("@example.org", False),
        ("ada@example", False),  # a domain that could receive mail has a dot
        ("a..b@example.org", False),
        ("ada@example.org, bob@example.org", False),
        ("ada@localhost", False),
        ("ada@mail.invalid", False),
        ("", False),
    ],
)
def test_an_email_is_one_by_its_syntax(text: str, valid: bool) -> None:
    assert is_email(text) is valid


@pytest.mark.parametrize(
    ("text", "rules", "written"),
    [
        # As written: a possible number is kept as its source wrote it.
        ("+44 20 7946 0101", AS_WRITTEN, "+44 20 7946 0101"),
        ("+49 30 1234567;ext=102", AS_WRITTEN, "+49 30 1234567;ext=102"),
        # No country code, no default region: characters and length only.
        ("030 1234567", AS_WRITTEN, "030 1234567"),
        ("(030) 123-4567 ext. 12", AS_WRITTEN, "(030) 123-4567 ext. 12"),
        ("12", AS_WRITTEN, None),
        ("call me", AS_WRITTEN, None),
        ("030 CALL NOW", AS_WRITTEN, None),
        ("+999 1234", AS_WRITTEN, None),  # no such country code
        ("+49 1", AS_WRITTEN, None),  # too short for Germany
        # With a default region the national number is read in it.
        ("030 1234567", GERMAN, "030 1234567"),
        ("0", GERMAN, None),
        # E.164: one form, extensions kept.
        ("030 1234567", E164_DE, "+49301234567"),
        ("+49 (30) 123-4567", E164_DE, "+49301234567"),
        ("tel:+49-30-1234567;ext=102", E164_DE, "+49301234567;ext=102"),
        ("+44 20 7946 0101", E164_DE, "+442079460101"),
        ("not a number", E164_DE, None),
    ],
)
def test_a_phone_is_one_by_its_length_for_its_country_and_may_be_written_as_e164(
    text: str, rules: PhoneValuesSpec, written: str | None
) -> None:
    assert checked_phone(text, rules) == written


def person(item: str, **fields: FieldValue) -> Contact:
    return Contact("people", item, {F(name): value for name, value in fields.items()})


DROP = ValuesSpec()
QUARANTINE = ValuesSpec(invalid=InvalidValues.QUARANTINE)


def test_dropping_keeps_the_valid_values_with_their_typing_and_counts_the_rest() -> None:
    ada = person(
        "ada",
        fullName="Ada",
        emails=(Typed("ada@example.org", ("work",)), Typed("not-an-email", ("home",))),
        phones=("+44 20 7946 0101", "call me", "ask Bob"),
    )
    checked, dropped = checked_values(ada, DROP)
    assert checked.fields[F.EMAILS] == (Typed("ada@example.org", ("work",)),)
    assert checked.fields[F.PHONES] == (Typed("+44 20 7946 0101"),)
    assert dropped == {F.EMAILS: 1, F.PHONES: 2}


def test_a_record_whose_values_all_pass_is_the_same_record() -> None:
    ada = person("ada", fullName="Ada", emails=("ada@example.org",), phones=("+44 20 7946 0101",))
    checked, dropped = checked_values(ada, DROP)
    assert (checked, dropped) == (ada, {})
    assert checked.content_hash() == ada.content_hash()


def test_a_field_left_without_values_is_gone() -> None:
    checked, dropped = checked_values(person("x", fullName="X", emails=("nope",)), DROP)
    assert F.EMAILS not in checked.fields
    assert dropped == {F.EMAILS: 1}


def test_e164_makes_two_spellings_of_one_number_one_value_with_both_typings() -> None:
    rules = ValuesSpec(phones=E164_DE)
    ada = person(
        "ada",
        fullName="Ada",
        phones=(Typed("030 1234567", ("work",)), Typed("+49 30 1234567", ("voice",))),
    )
    checked, dropped = checked_values(ada, rules)
    assert checked.fields[F.PHONES] == (Typed("+49301234567", ("voice", "work")),)
    assert dropped == {}


@pytest.mark.parametrize(
    ("rules", "kept", "quarantined", "dropped_emails", "for_invalid"),
    [
        (DROP, ["ada", "bob"], ["nobody"], 1, 0),
        (QUARANTINE, ["ada"], ["bob", "nobody"], 0, 1),
    ],
)
def test_drop_or_quarantine_as_the_spec_chooses(
    rules: ValuesSpec,
    kept: list[str],
    quarantined: list[str],
    dropped_emails: int,
    for_invalid: int,
) -> None:
    contacts = [
        person("ada", fullName="Ada", emails=("ada@example.org",)),
        person("bob", fullName="Bob", emails=("bob@example.org", "bob at home")),
        person("nobody", note="a note and nothing else"),
    ]
    page = check_page(contacts, rules, KEYS)
    assert [c.item_id for c in page.kept] == kept
    assert [q.item_id for q in page.quarantined] == quarantined
    assert page.dropped_in(F.EMAILS) == dropped_emails
    assert page.quarantined_for[INVALID_VALUES] == for_invalid
    assert page.quarantined_for[NO_IDENTITY] == 1
    for item in page.quarantined:
        assert "bob at home" not in item.reason
        assert "a note" not in item.reason


def test_a_record_whose_only_identity_was_invalid_and_has_no_name_names_no_one() -> None:
    page = check_page([person("x", emails=("not-an-email",), title="Engineer")], DROP, KEYS)
    assert page.kept == []
    [quarantined] = page.quarantined
    assert quarantined.item_id == "x"
    assert "no identity value (email, uid) and no name" in quarantined.reason
    assert page.quarantined_for == {NO_IDENTITY: 1}


@pytest.mark.parametrize(
    "contact",
    [
        person("named", fullName="Ada"),
        person("org", organization="Analytical Engines Ltd"),
        person("mail", emails=("ada@example.org",)),
        Contact("people", "uid", {F.TITLE: "Engineer"}, uid="ada-1"),
    ],
)
def test_an_identity_value_or_a_name_is_enough(contact: Contact) -> None:
    assert check_page([contact], DROP, KEYS).kept == [contact]
