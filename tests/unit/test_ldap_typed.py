"""LDAP attributes as typed values: which attribute gives which types, asked for only when
their field is allowed."""

from __future__ import annotations

from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import Contact, FieldPolicy
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.sources.ldap_entries import EntryMapper, requested_attributes

UUID = "7d0c5e3a-3f1b-4a8e-9f0e-000000000001"
POLICY = FieldPolicy(allowed=frozenset({F.EMAILS, F.PHONES, F.ADDRESSES, F.URLS}), identity=())


def mapped(**attributes: list[str]) -> Contact:
    raw = {name: [v.encode() for v in values] for name, values in attributes.items()}
    contact = EntryMapper("hr", POLICY).record(
        "uid=ada,ou=people", {"entryUUID": [UUID.encode()], **raw}
    )
    assert isinstance(contact, Contact)
    return contact


def test_each_phone_attribute_gives_its_types_in_a_fixed_order() -> None:
    ada = mapped(
        pager=["+44 4"],
        facsimileTelephoneNumber=["+44 3 $twoDimensional"],
        homePhone=["+44 2"],
        mobile=["+44 1"],
        telephoneNumber=["+44 0"],
    )
    assert ada.fields[F.PHONES] == (
        Typed("+44 0", ("voice", "work")),
        Typed("+44 1", ("cell",)),
        Typed("+44 2", ("home", "voice")),
        Typed("+44 3", ("fax", "work")),
        Typed("+44 4", ("pager",)),
    )


def test_one_number_under_two_attributes_is_one_value_with_both_types() -> None:
    ada = mapped(telephoneNumber=["+44 0"], mobile=["+44 0"])
    assert ada.fields[F.PHONES] == (Typed("+44 0", ("cell", "voice", "work")),)


def test_mail_is_work_postal_addresses_are_work_and_home_and_a_uri_label_is_its_label() -> None:
    ada = mapped(
        mail=["ada@example.org"],
        postalAddress=["Analytical Engines Ltd $ 1 Engine Row"],
        homePostalAddress=["12 St James's Square $ London"],
        labeledURI=["https://ada.example/ My notes", "https://ada.example/plain"],
    )
    assert ada.fields[F.EMAILS] == (Typed("ada@example.org", ("work",)),)
    assert ada.fields[F.ADDRESSES] == (
        Typed(";;Analytical Engines Ltd\\n1 Engine Row;;;;", ("work",)),
        Typed(";;12 St James's Square\\nLondon;;;;", ("home",)),
    )
    assert ada.fields[F.URLS] == (
        Typed("https://ada.example/", label="My notes"),
        Typed("https://ada.example/plain"),
    )


def test_phone_attributes_are_asked_for_only_when_phones_are_allowed() -> None:
    phones = {"telephoneNumber", "mobile", "homePhone", "facsimileTelephoneNumber", "pager"}
    assert phones <= set(requested_attributes(POLICY))
    names_only = FieldPolicy(allowed=frozenset({F.FULL_NAME}), identity=())
    assert not phones & set(requested_attributes(names_only))
    assert "homePostalAddress" in requested_attributes(POLICY)
