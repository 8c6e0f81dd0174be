"""What a source's mapping resolves to: targets, plain data the readers apply (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contactsync_api.fields import ContactField

MAX_ENTRIES = 200
TYPE_WORD_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
TYPED_FIELD_NAMES = ("emails", "phones", "addresses", "urls")


class MappedField(StrEnum):
    """What a column, key or attribute may feed: a canonical field, or the record's id or uid."""

    FULL_NAME = "fullName"
    GIVEN_NAME = "givenName"
    FAMILY_NAME = "familyName"
    ADDITIONAL_NAMES = "additionalNames"
    NICKNAME = "nickname"
    EMAILS = "emails"
    PHONES = "phones"
    ADDRESSES = "addresses"
    ORGANIZATION = "organization"
    DEPARTMENT = "department"
    TITLE = "title"
    BIRTHDAY = "birthday"
    NOTE = "note"
    URLS = "urls"
    PHOTO = "photo"
    CATEGORIES = "categories"
    ID = "id"
    UID = "uid"

    @property
    def contact_field(self) -> ContactField | None:
        """The canonical field it names; None for id and uid."""
        return _CONTACT_FIELDS.get(self.value)


class AddressComponent(StrEnum):
    """A component of a vCard address (ADR), in the order vCard lists them."""

    POBOX = "pobox"
    EXT = "ext"
    STREET = "street"
    LOCALITY = "locality"
    REGION = "region"
    CODE = "code"
    COUNTRY = "country"


class FilePreset(StrEnum):
    GOOGLE_CSV = "google-csv"
    OUTLOOK_CSV = "outlook-csv"


class LdapPreset(StrEnum):
    INET_ORG_PERSON = "inetorgperson"
    ACTIVE_DIRECTORY = "active-directory"


@dataclass(frozen=True)
class Target:
    """One column, key or attribute (``name``) and the field it feeds.

    ``types`` are given to every value; ``type_from`` names columns (the first present
    is read) whose text gives each value's types, as "* Work" or "Mobile" (a preferred work
    value; a cell phone); ``component`` makes the value one part of an address, the
    parts with equal types and type columns forming one address."""

    name: str
    field: MappedField
    types: tuple[str, ...] = ()
    type_from: tuple[str, ...] = ()
    component: AddressComponent | None = None


@dataclass(frozen=True)
class SourceMapping:
    """A source's resolved mapping.

    ``canonical``: a column or key no target names is read by the canonical names (the
    files' default); ``separator`` splits a cell holding several values (CSV)."""

    targets: tuple[Target, ...]
    canonical: bool
    separator: str = ";"
    preset: str | None = None

    def names(self) -> tuple[str, ...]:
        """The columns, keys or attributes the targets read, in first-use order."""
        names = [t.name for t in self.targets] + [n for t in self.targets for n in t.type_from]
        return tuple(dict.fromkeys(names))


_CONTACT_FIELDS = {str(f): f for f in ContactField}
