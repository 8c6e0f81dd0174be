"""Merging records of one person from several sources."""

from __future__ import annotations

from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_worker.contacts.merge import merge_fields, merged_uid
from contactsync_worker.contacts.model import Contact
from contactsync_worker.contacts.typed import Typed


def contact(source: str, item: str, **fields: object) -> Contact:
    return Contact(source, item, {F(k): v for k, v in fields.items()})  # type: ignore[misc]


def test_scalars_follow_source_order_and_lists_are_united() -> None:
    hr = contact(
        "hr",
        "dn1",
        fullName="Erika Mustermann",
        emails=("Erika@Example.org",),
        phones=("+49 30 123",),
    )
    crm = contact(
        "crm",
        "c7",
        fullName="E. Mustermann",
        title="CTO",
        emails=("erika@example.org", "e@home.example"),
    )
    merged = merge_fields([crm, hr], ["hr", "crm"], [F.FULL_NAME, F.TITLE, F.EMAILS, F.PHONES])
    assert merged == {
        F.FULL_NAME: "Erika Mustermann",
        F.TITLE: "CTO",
        F.EMAILS: (Typed("Erika@Example.org"), Typed("e@home.example")),
        F.PHONES: (Typed("+49 30 123"),),
    }


def test_merge_keeps_only_allowed_fields() -> None:
    record = contact("hr", "1", fullName="X", title="secret title")
    assert merge_fields([record], ["hr"], [F.FULL_NAME]) == {F.FULL_NAME: "X"}


def test_identity_matches_across_formatting() -> None:
    a = Contact(
        "a", "1", {F.EMAILS: ("Erika@Example.org ",), F.PHONES: ("+49 (30) 12-3",)}, uid="u1"
    )
    keys = (IdentityKey.EMAIL, IdentityKey.UID, IdentityKey.PHONE)
    assert a.identity(keys) == ("email:erika@example.org", "uid:u1", "phone:+4930123")
    assert merged_uid([a, Contact("b", "2", {}, uid="u0")], ["b", "a"]) == "u0"
