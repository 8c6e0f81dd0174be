"""The built-in mappings, as tables of targets (pure data; docs/worker.md shows each).

- ``google-csv``: a Google Contacts CSV export. Both of its headers are read: the older one
  ("Given Name", "E-mail 1 - Type") and the current one ("First Name", "E-mail 1 - Label");
  a cell holding several values separates them with " ::: ".
- ``outlook-csv``: an Outlook CSV export. Its "Title" is a courtesy title (Mr., Dr.) and
  is not read; "Job Title" is the title. Addresses come in parts (street, city, ...).
- ``inetorgperson``: OpenLDAP's inetOrgPerson (RFC 2798), the LDAP default.
- ``active-directory``: Active Directory's ``user`` class.

Columns that number repeated values ("E-mail 1", "E-mail 2", ...) are listed up to
``NUMBERED`` of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from contactsync_api.mapping_targets import (
    AddressComponent,
    FilePreset,
    LdapPreset,
    MappedField,
    SourceMapping,
    Target,
)

F = MappedField
A = AddressComponent
NUMBERED = 9
GOOGLE_SEPARATOR = " ::: "

# A file's default: no targets, every column and key read by its canonical name.
FILE_DEFAULT = SourceMapping((), canonical=True)


def _plain(*pairs: tuple[str, MappedField]) -> tuple[Target, ...]:
    return tuple(Target(name, field) for name, field in pairs)


def _google_numbered(kind: str, field: MappedField) -> tuple[Target, ...]:
    return tuple(
        Target(
            f"{kind} {n} - Value", field, type_from=(f"{kind} {n} - Type", f"{kind} {n} - Label")
        )
        for n in range(1, NUMBERED + 1)
    )


def _google_addresses() -> tuple[Target, ...]:
    parts = (
        ("PO Box", A.POBOX),
        ("Extended Address", A.EXT),
        ("Street", A.STREET),
        ("City", A.LOCALITY),
        ("Region", A.REGION),
        ("Postal Code", A.CODE),
        ("Country", A.COUNTRY),
    )
    return tuple(
        Target(
            f"Address {n} - {part}",
            F.ADDRESSES,
            type_from=(f"Address {n} - Type", f"Address {n} - Label"),
            component=component,
        )
        for n in range(1, NUMBERED + 1)
        for part, component in parts
    )


GOOGLE_CSV = SourceMapping(
    (
        *_plain(
            ("Name", F.FULL_NAME),
            ("Given Name", F.GIVEN_NAME),
            ("First Name", F.GIVEN_NAME),
            ("Additional Name", F.ADDITIONAL_NAMES),
            ("Middle Name", F.ADDITIONAL_NAMES),
            ("Family Name", F.FAMILY_NAME),
            ("Last Name", F.FAMILY_NAME),
            ("Nickname", F.NICKNAME),
            ("Birthday", F.BIRTHDAY),
            ("Notes", F.NOTE),
            ("Organization 1 - Name", F.ORGANIZATION),
            ("Organization Name", F.ORGANIZATION),
            ("Organization 1 - Title", F.TITLE),
            ("Organization Title", F.TITLE),
            ("Organization 1 - Department", F.DEPARTMENT),
            ("Organization Department", F.DEPARTMENT),
        ),
        *_google_numbered("E-mail", F.EMAILS),
        *_google_numbered("Phone", F.PHONES),
        *_google_numbered("Website", F.URLS),
        *_google_addresses(),
    ),
    canonical=False,
    separator=GOOGLE_SEPARATOR,
    preset=FilePreset.GOOGLE_CSV,
)


def _outlook_address(prefix: str, types: tuple[str, ...]) -> tuple[Target, ...]:
    parts = (
        (f"{prefix} Street", A.STREET),
        (f"{prefix} Street 2", A.STREET),
        (f"{prefix} Street 3", A.STREET),
        (f"{prefix} Address PO Box", A.POBOX),
        (f"{prefix} City", A.LOCALITY),
        (f"{prefix} State", A.REGION),
        (f"{prefix} Postal Code", A.CODE),
        (f"{prefix} Country/Region", A.COUNTRY),
    )
    return tuple(Target(name, F.ADDRESSES, types, component=c) for name, c in parts)


OUTLOOK_CSV = SourceMapping(
    (
        *_plain(
            ("First Name", F.GIVEN_NAME),
            ("Middle Name", F.ADDITIONAL_NAMES),
            ("Last Name", F.FAMILY_NAME),
            ("Nickname", F.NICKNAME),
            ("Company", F.ORGANIZATION),
            ("Department", F.DEPARTMENT),
            ("Job Title", F.TITLE),
            ("Birthday", F.BIRTHDAY),
            ("Notes", F.NOTE),
            ("Categories", F.CATEGORIES),
            ("E-mail Address", F.EMAILS),
            ("E-mail 2 Address", F.EMAILS),
            ("E-mail 3 Address", F.EMAILS),
        ),
        Target("Primary Phone", F.PHONES, ("voice", "pref")),
        Target("Business Phone", F.PHONES, ("voice", "work")),
        Target("Business Phone 2", F.PHONES, ("voice", "work")),
        Target("Company Main Phone", F.PHONES, ("voice", "work")),
        Target("Mobile Phone", F.PHONES, ("cell",)),
        Target("Home Phone", F.PHONES, ("home", "voice")),
        Target("Home Phone 2", F.PHONES, ("home", "voice")),
        Target("Other Phone", F.PHONES, ("voice",)),
        Target("Car Phone", F.PHONES, ("car",)),
        Target("Pager", F.PHONES, ("pager",)),
        Target("Business Fax", F.PHONES, ("fax", "work")),
        Target("Home Fax", F.PHONES, ("fax", "home")),
        Target("Other Fax", F.PHONES, ("fax",)),
        Target("TTY/TDD Phone", F.PHONES, ("textphone",)),
        Target("Web Page", F.URLS, ("work",)),
        Target("Personal Web Page", F.URLS, ("home",)),
        *_outlook_address("Business", ("work",)),
        *_outlook_address("Home", ("home",)),
        *_outlook_address("Other", ()),
    ),
    canonical=False,
    preset=FilePreset.OUTLOOK_CSV,
)

# inetOrgPerson describes people of an organization, so its plain attributes are their
# work ones. fullName takes displayName, the name meant for display, before cn.
INET_ORG_PERSON = SourceMapping(
    (
        *_plain(
            ("displayName", F.FULL_NAME),
            ("cn", F.FULL_NAME),
            ("givenName", F.GIVEN_NAME),
            ("sn", F.FAMILY_NAME),
            ("o", F.ORGANIZATION),
            ("ou", F.DEPARTMENT),
            ("title", F.TITLE),
            ("description", F.NOTE),
            ("jpegPhoto", F.PHOTO),
        ),
        Target("mail", F.EMAILS, ("work",)),
        Target("telephoneNumber", F.PHONES, ("voice", "work")),
        Target("mobile", F.PHONES, ("cell",)),
        Target("homePhone", F.PHONES, ("home", "voice")),
        Target("facsimileTelephoneNumber", F.PHONES, ("fax", "work")),
        Target("pager", F.PHONES, ("pager",)),
        Target("postalAddress", F.ADDRESSES, ("work",)),
        Target("homePostalAddress", F.ADDRESSES, ("home",)),
        Target("labeledURI", F.URLS),
    ),
    canonical=False,
    preset=LdapPreset.INET_ORG_PERSON,
)

ACTIVE_DIRECTORY = SourceMapping(
    (
        *_plain(
            ("displayName", F.FULL_NAME),
            ("cn", F.FULL_NAME),
            ("givenName", F.GIVEN_NAME),
            ("sn", F.FAMILY_NAME),
            ("middleName", F.ADDITIONAL_NAMES),
            ("company", F.ORGANIZATION),
            ("department", F.DEPARTMENT),
            ("title", F.TITLE),
            ("info", F.NOTE),
            ("thumbnailPhoto", F.PHOTO),
        ),
        Target("mail", F.EMAILS, ("work",)),
        Target("telephoneNumber", F.PHONES, ("voice", "work")),
        Target("otherTelephone", F.PHONES, ("voice", "work")),
        Target("mobile", F.PHONES, ("cell",)),
        Target("otherMobile", F.PHONES, ("cell",)),
        Target("homePhone", F.PHONES, ("home", "voice")),
        Target("otherHomePhone", F.PHONES, ("home", "voice")),
        Target("facsimileTelephoneNumber", F.PHONES, ("fax", "work")),
        Target("otherFacsimileTelephoneNumber", F.PHONES, ("fax", "work")),
        Target("pager", F.PHONES, ("pager",)),
        Target("otherPager", F.PHONES, ("pager",)),
        Target("streetAddress", F.ADDRESSES, ("work",), component=A.STREET),
        Target("postOfficeBox", F.ADDRESSES, ("work",), component=A.POBOX),
        Target("l", F.ADDRESSES, ("work",), component=A.LOCALITY),
        Target("st", F.ADDRESSES, ("work",), component=A.REGION),
        Target("postalCode", F.ADDRESSES, ("work",), component=A.CODE),
        Target("co", F.ADDRESSES, ("work",), component=A.COUNTRY),
        Target("wWWHomePage", F.URLS, ("work",)),
        Target("url", F.URLS, ("work",)),
    ),
    canonical=False,
    preset=LdapPreset.ACTIVE_DIRECTORY,
)

FILE_PRESETS: Mapping[FilePreset, SourceMapping] = {
    FilePreset.GOOGLE_CSV: GOOGLE_CSV,
    FilePreset.OUTLOOK_CSV: OUTLOOK_CSV,
}
LDAP_PRESETS: Mapping[LdapPreset, SourceMapping] = {
    LdapPreset.INET_ORG_PERSON: INET_ORG_PERSON,
    LdapPreset.ACTIVE_DIRECTORY: ACTIVE_DIRECTORY,
}
