"""Source mappings: the spec model, the pure mapping of values, and CSV, JSON Lines and LDAP
records read through the presets and explicit entries."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.errors import SourceUnavailable
from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_api.mapping_presets import ACTIVE_DIRECTORY, GOOGLE_CSV, INET_ORG_PERSON
from contactsync_api.mapping_targets import TYPED_FIELD_NAMES, Target
from contactsync_api.mapping_targets import AddressComponent as A
from contactsync_api.mapping_targets import MappedField as M
from contactsync_api.mappings import file_mapping, ldap_mapping
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page
from contactsync_worker.contacts.typed import TYPED_FIELDS, Typed
from contactsync_worker.sources.files import CsvSource, JsonLinesSource
from contactsync_worker.sources.ldap_entries import EntryMapper, requested_attributes
from contactsync_worker.sources.mapped_values import TypeText, mapped_values, types_from_text
from tests.mapping_exports import (
    GOOGLE_ADA,
    GOOGLE_CLASSIC_HEADER,
    GOOGLE_CURRENT_GRACE,
    GOOGLE_CURRENT_HEADER,
    OUTLOOK_ALAN,
    OUTLOOK_HEADER,
    SPREADSHEET_HEADER,
    SPREADSHEET_MAPPING,
    SPREADSHEET_ROWS,
    export,
)

EVERYTHING = frozenset(F)
BOOK = frozenset(
    {F.FULL_NAME, F.EMAILS, F.PHONES, F.ADDRESSES, F.ORGANIZATION, F.TITLE, F.URLS, F.NOTE}
)

# --- the type a label spells --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mobile", TypeText(("cell",))),
        ("* Work", TypeText(("work",), preferred=True)),
        ("*Home", TypeText(("home",), preferred=True)),
        ("Home Fax", TypeText(("fax", "home"))),
        ("Work Fax", TypeText(("fax", "work"))),
        ("Other", TypeText()),
        ("", TypeText()),
        ("Assistant", TypeText(label="Assistant")),
        ("* Blog", TypeText(preferred=True, label="Blog")),
        ("Work Mobile", TypeText(("cell", "work"))),
    ],
)
def test_a_type_column_spells_types_a_preference_or_a_label(text: str, expected: TypeText) -> None:
    assert types_from_text(text) == expected


# --- targets applied to one record --------------------------------------------------------


def read_from(cells: dict[str, str | list[str]]) -> Any:
    def read(name: str) -> list[str]:
        value = cells.get(name, [])
        return [value] if isinstance(value, str) else value

    return read


CASES: list[tuple[str, list[Target], dict[str, str | list[str]], dict[Any, Any]]] = [
    (
        "a single field takes the first column that has a value",
        [Target("Name", M.FULL_NAME), Target("cn", M.FULL_NAME)],
        {"Name": " ", "cn": "Ada"},
        {M.FULL_NAME: ["Ada"]},
    ),
    (
        "a multi-valued field takes every column's values",
        [Target("a", M.CATEGORIES), Target("b", M.CATEGORIES)],
        {"a": "x;y", "b": "z"},
        {M.CATEGORIES: ["x", "y", "z"]},
    ),
    (
        "a typed field gets the target's types and the type column's",
        [Target("v", M.PHONES, ("voice",), type_from=("t",))],
        {"v": "+1 1;+1 2", "t": "* Work"},
        {F.PHONES: [Typed("+1 1", ("voice", "work"), 1), Typed("+1 2", ("voice", "work"), 1)]},
    ),
    (
        "the first type column present is read",
        [Target("v", M.EMAILS, type_from=("Type", "Label"))],
        {"v": "a@x", "Label": "Home"},
        {F.EMAILS: [Typed("a@x", ("home",))]},
    ),
    (
        "address parts with equal types form one address, in vCard order",
        [
            Target("city", M.ADDRESSES, ("work",), component=A.LOCALITY),
            Target("street", M.ADDRESSES, ("work",), component=A.STREET),
            Target("street2", M.ADDRESSES, ("work",), component=A.STREET),
            Target("home city", M.ADDRESSES, ("home",), component=A.LOCALITY),
        ],
        {"city": "Paris", "street": "1 rue, A", "street2": "Bât; 2", "home city": "Lyon"},
        {
            F.ADDRESSES: [
                Typed(";;1 rue\\, A\\nBât\\; 2;Paris;;;", ("work",)),
                Typed(";;;Lyon;;;", ("home",)),
            ]
        },
    ),
    (
        "an address without parts is left out",
        [Target("city", M.ADDRESSES, component=A.LOCALITY)],
        {"city": ""},
        {},
    ),
    (
        "a full name is made of its parts when no column holds it",
        [
            Target("First", M.GIVEN_NAME),
            Target("Middle", M.ADDITIONAL_NAMES),
            Target("Last", M.FAMILY_NAME),
        ],
        {"First": "Grace", "Middle": "Brewster", "Last": "Hopper"},
        {
            M.GIVEN_NAME: ["Grace"],
            M.ADDITIONAL_NAMES: ["Brewster"],
            M.FAMILY_NAME: ["Hopper"],
            M.FULL_NAME: ["Grace Brewster Hopper"],
        },
    ),
    (
        "id and uid take the first value",
        [Target("key", M.ID), Target("login", M.UID)],
        {"key": "7", "login": "ada"},
        {M.ID: ["7"], M.UID: ["ada"]},
    ),
]


@pytest.mark.parametrize(
    ("targets", "cells", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_targets_map_a_record(
    targets: list[Target], cells: dict[str, str | list[str]], expected: dict[Any, Any]
) -> None:
    found = mapped_values(targets, read_from(cells), EVERYTHING, separator=";")
    given: dict[object, object] = {k: v for k, v in found.texts.items()}
    given.update(found.typed.items())
    assert given == expected


def test_fields_not_allowed_are_not_given_and_their_columns_not_read() -> None:
    asked: list[str] = []

    def read(name: str) -> list[str]:
        asked.append(name)
        return ["x"]

    targets = [Target("n", M.NOTE), Target("e", M.EMAILS), Target("g", M.GIVEN_NAME)]
    found = mapped_values(targets, read, frozenset({F.EMAILS}))
    assert found.texts == {}
    assert found.typed == {F.EMAILS: [Typed("x")]}
    assert asked == ["e"]


# --- the spec model ---------------------------------------------------------------------


def test_an_entry_replaces_the_presets_entries_of_its_name() -> None:
    spec = FileSourceSpec.model_validate(
        {
            "path": "/data/c.csv",
            "mapping": {
                "preset": "google-csv",
                "entries": [{"name": "notes", "field": "categories"}, {"name": "X", "field": "id"}],
            },
        }
    )
    targets = file_mapping(spec.mapping).targets
    assert Target("Notes", M.NOTE) not in targets
    assert targets[-2:] == (Target("notes", M.CATEGORIES), Target("X", M.ID))
    assert len(targets) == len(GOOGLE_CSV.targets) + 1


def test_without_a_mapping_files_read_canonical_names_and_ldap_inet_org_person() -> None:
    assert file_mapping(None).canonical
    assert not file_mapping(None).targets
    assert ldap_mapping(None) == INET_ORG_PERSON
    ad = LdapSourceSpec.model_validate(
        {"url": "ldaps://dc", "baseDN": "dc=x", "mapping": {"preset": "active-directory"}}
    )
    assert ldap_mapping(ad.mapping) == ACTIVE_DIRECTORY


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"entries": [{"name": "n", "field": "fulName"}]}, "mapping.entries.0.field"),
        ({"entries": [{"name": "n", "field": "note", "types": ["work"]}]}, "typed fields only"),
        ({"entries": [{"name": "n", "field": "emails", "types": ["Work!"]}]}, "types.0"),
        ({"entries": [{"name": "n", "field": "note", "typeFrom": "t"}]}, "typeFrom applies"),
        ({"entries": [{"name": "n", "field": "phones", "component": "street"}]}, "addresses only"),
        ({"entries": [{"name": "n", "field": "emails", "component": "town"}]}, "component"),
        ({"preset": "inetorgperson"}, "mapping.preset"),
        ({"entries": [{"name": "A", "field": "note"}, {"name": "a", "field": "title"}]}, "twice"),
    ],
)
def test_a_bad_mapping_is_refused_naming_what_is_wrong(
    mapping: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        FileSourceSpec.model_validate({"path": "/data/c.csv", "mapping": mapping})


# --- files through a mapping -----------------------------------------------------------------


def csv_source(
    path: Path, mapping: Mapping[str, object] | None, allowed: frozenset[F]
) -> CsvSource:
    spec = FileSourceSpec.model_validate({"path": str(path), "mapping": mapping})
    return CsvSource("export", spec, FieldPolicy(allowed, consent_property="consent"))


async def contacts_of(source: CsvSource | JsonLinesSource) -> dict[str, Contact]:
    page: Page = await source.fetch(None, None)
    assert page.complete
    assert not page.quarantined, page.quarantined
    return {str(c.fields[F.FULL_NAME]): c for c in page.contacts}


async def test_a_google_export_of_the_classic_header_maps_names_types_and_addresses(
    tmp_path: Path,
) -> None:
    path = tmp_path / "google.csv"
    path.write_bytes(export(GOOGLE_CLASSIC_HEADER, [GOOGLE_ADA], bom=True))
    ada = (await contacts_of(csv_source(path, {"preset": "google-csv"}, BOOK)))["Ada Lovelace"]
    assert ada.fields == {
        F.FULL_NAME: "Ada Lovelace",
        F.EMAILS: (
            Typed("ada@work.example", ("work",), 1),
            Typed("ada@home.example", ("home",)),
            Typed("ada.l@home.example", ("home",)),
        ),
        F.PHONES: (
            Typed("+44 20 7946 0101", ("cell",)),
            Typed("+44 20 7946 0109", ("fax", "work")),
        ),
        F.ADDRESSES: (Typed(";;12 St James's Square;London;;SW1Y 4JH;UK", ("home",)),),
        F.ORGANIZATION: "Analytical Engines Ltd",
        F.TITLE: "Analyst",
        F.URLS: (Typed("https://ada.example/notes", label="Blog"),),
        F.NOTE: "met at the Analytical Society",
    }


async def test_a_google_export_of_the_current_header_makes_the_full_name_of_its_parts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "google.csv"
    path.write_bytes(export(GOOGLE_CURRENT_HEADER, [GOOGLE_CURRENT_GRACE]))
    people = await contacts_of(csv_source(path, {"preset": "google-csv"}, BOOK))
    grace = people["Grace Brewster Hopper"]
    assert grace.fields[F.EMAILS] == (Typed("grace@navy.example", ("work",), 1),)
    assert grace.fields[F.PHONES] == (Typed("+1 202 555 0199", ("home",)),)
    assert grace.fields[F.ORGANIZATION] == "US Navy"


async def test_an_outlook_export_maps_phones_by_column_and_skips_its_courtesy_title(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outlook.csv"
    path.write_bytes(export(OUTLOOK_HEADER, [OUTLOOK_ALAN]))
    alan = (await contacts_of(csv_source(path, {"preset": "outlook-csv"}, BOOK)))["Alan Turing"]
    assert alan.fields[F.TITLE] == "Mathematician"
    assert alan.fields[F.PHONES] == (
        Typed("+44 20 8977 3222", ("voice", "work")),
        Typed("+44 7700 900123", ("cell",)),
        Typed("+44 20 8943 2155", ("fax", "work")),
    )
    assert alan.fields[F.EMAILS] == (Typed("alan@npl.example"), Typed("alan@home.example"))
    assert alan.fields[F.ADDRESSES] == (
        Typed(";;Hampton Road;Teddington;;TW11 0LW;United Kingdom", ("work",)),
    )


async def test_a_spreadsheet_header_reads_through_explicit_entries(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(export(SPREADSHEET_HEADER, SPREADSHEET_ROWS))
    allowed = frozenset({F.FULL_NAME, F.EMAILS, F.PHONES, F.ORGANIZATION, F.NOTE})
    people = await contacts_of(csv_source(path, SPREADSHEET_MAPPING, allowed))
    katherine = people["Katherine Johnson"]
    assert katherine.fields == {
        F.FULL_NAME: "Katherine Johnson",
        F.EMAILS: (Typed("katherine@nasa.example", ("work",)),),
        F.PHONES: (Typed("+1 757 555 0142", ("cell",)),),
        F.ORGANIZATION: "NASA",
        F.NOTE: "orbital mechanics; trajectories",
    }
    assert katherine.item_id == "u-1"
    assert katherine.consent == ("yes",)


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        (None, r"the canonical field names reads \['fullName', 'emails\[\.<type>\]'\]"),
        ({"preset": "outlook-csv"}, r"the outlook-csv mapping reads \['First Name', 'Middle Name'"),
    ],
)
async def test_a_header_that_feeds_no_allowed_field_fails_naming_columns_not_values(
    tmp_path: Path, mapping: dict[str, object] | None, expected: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(export(SPREADSHEET_HEADER, SPREADSHEET_ROWS))
    source = csv_source(path, mapping, frozenset({F.FULL_NAME, F.EMAILS}))
    with pytest.raises(SourceUnavailable) as failure:
        await source.fetch(None, None)
    message = str(failure.value)
    assert "the header has ['uid', 'full_name', 'email', 'phone', 'organization'" in message
    assert re.search(expected, message), message
    assert "katherine" not in message.lower()
    assert "NASA" not in message


async def test_a_mapped_cell_that_is_not_utf8_quarantines_its_row_by_line(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"full_name,email\r\nAda,ada@x.example\r\nJos\xe9,jose@x.example\r\n")
    mapping = {
        "entries": [
            {"name": "full_name", "field": "fullName"},
            {"name": "email", "field": "emails"},
        ]
    }
    page = await csv_source(path, mapping, frozenset({F.FULL_NAME, F.EMAILS})).fetch(None, None)
    assert [c.fields[F.FULL_NAME] for c in page.contacts] == ["Ada"]
    assert [(q.item_id, q.reason) for q in page.quarantined] == [
        ("line:3", "full_name is not valid UTF-8")
    ]


async def test_json_lines_keys_read_through_entries_and_others_are_dropped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "people.jsonl"
    records = [
        {"name": "Ada", "mail": ["a@x.example", "b@x.example"], "salary": 1, "id": 7},
        {"name": "Alan", "mail": 3},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    mapping = {
        "entries": [
            {"name": "name", "field": "fullName"},
            {"name": "mail", "field": "emails", "types": ["home"]},
        ]
    }
    spec = FileSourceSpec.model_validate({"path": str(path), "mapping": mapping})
    source = JsonLinesSource("j", spec, FieldPolicy(frozenset({F.FULL_NAME, F.EMAILS})))
    page = await source.fetch(None, None)
    assert [(c.item_id, c.fields) for c in page.contacts] == [
        (
            "7",
            {
                F.FULL_NAME: "Ada",
                F.EMAILS: (Typed("a@x.example", ("home",)), Typed("b@x.example", ("home",))),
            },
        )
    ]
    assert [(q.item_id, q.reason) for q in page.quarantined] == [
        ("line:2", "mail must be a string or a list of strings")
    ]


# --- LDAP entries through a preset ------------------------------------------------------------

UUID = "7d0c5e3a-3f1b-4a8e-9f0e-000000000001"


def test_an_active_directory_user_maps_its_own_attributes() -> None:
    policy = FieldPolicy(BOOK | {F.DEPARTMENT}, identity=())
    raw = {
        "displayName": ["Margaret Hamilton"],
        "mail": ["margaret@mit.example"],
        "telephoneNumber": ["+1 617 555 0100"],
        "otherMobile": ["+1 617 555 0101"],
        "company": ["MIT"],
        "department": ["Instrumentation Lab"],
        "streetAddress": ["75 Cambridge Pkwy"],
        "l": ["Cambridge"],
        "st": ["MA"],
        "postalCode": ["02142"],
        "co": ["United States"],
        "info": ["Apollo"],
        "wWWHomePage": ["https://mit.example/~mh"],
    }
    entry = {"entryUUID": [UUID.encode()]} | {k: [v.encode() for v in vs] for k, vs in raw.items()}
    contact = EntryMapper("ad", policy, ACTIVE_DIRECTORY).record("cn=mh,dc=x", entry)
    assert isinstance(contact, Contact)
    assert contact.fields == {
        F.FULL_NAME: "Margaret Hamilton",
        F.EMAILS: (Typed("margaret@mit.example", ("work",)),),
        F.PHONES: (
            Typed("+1 617 555 0100", ("voice", "work")),
            Typed("+1 617 555 0101", ("cell",)),
        ),
        F.ORGANIZATION: "MIT",
        F.DEPARTMENT: "Instrumentation Lab",
        F.ADDRESSES: (Typed(";;75 Cambridge Pkwy;Cambridge;MA;02142;United States", ("work",)),),
        F.NOTE: "Apollo",
        F.URLS: (Typed("https://mit.example/~mh", ("work",)),),
    }
    asked = requested_attributes(policy, ACTIVE_DIRECTORY)
    assert {"company", "otherMobile", "streetAddress", "co", "wWWHomePage"} <= set(asked)
    assert "thumbnailPhoto" not in asked
    assert "jpegPhoto" not in asked


def test_an_ldap_entry_without_the_full_name_attributes_is_quarantined_naming_them() -> None:
    policy = FieldPolicy(frozenset({F.FULL_NAME}), identity=())
    entry = {"entryUUID": [UUID.encode()], "mail": [b"x@y"]}
    record = EntryMapper("ad", policy, ACTIVE_DIRECTORY).record("cn=x,dc=x", entry)
    assert not isinstance(record, Contact)
    assert record.reason == "no displayName or cn to take the full name from"


def test_an_ldap_entry_may_map_an_attribute_to_uid() -> None:
    spec = LdapSourceSpec.model_validate(
        {
            "url": "ldaps://dc",
            "baseDN": "dc=x",
            "mapping": {
                "preset": "active-directory",
                "entries": [{"name": "sAMAccountName", "field": "uid"}],
            },
        }
    )
    mapping = ldap_mapping(spec.mapping)
    policy = FieldPolicy(frozenset({F.FULL_NAME}), identity=(IdentityKey.UID,))
    entry = {"entryUUID": [UUID.encode()], "cn": [b"Ada"], "sAMAccountName": [b"alovelace"]}
    contact = EntryMapper("ad", policy, mapping).record("cn=Ada,dc=x", entry)
    assert isinstance(contact, Contact)
    assert (contact.uid, contact.carried_uid) == ("alovelace", "alovelace")
    assert "sAMAccountName" in requested_attributes(policy, mapping)


def test_what_a_mapping_may_feed_is_every_contact_field_and_the_ids() -> None:
    """MappedField spells ContactField's members again (an enum cannot extend another, and
    the CRD's schema wants one enum): a field added to the model must be mappable too."""
    assert {str(f) for f in M} == {str(f) for f in F} | {"id", "uid"}
    assert set(TYPED_FIELD_NAMES) == {str(f) for f in TYPED_FIELDS}
