"""The canonical contact model's field names and the keys that identify a person."""

from __future__ import annotations

from enum import StrEnum


class ContactField(StrEnum):
    """A field of the canonical contact model, as named in ``spec.fields``."""

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


class IdentityKey(StrEnum):
    """A key by which records of several sources are recognised as one contact."""

    EMAIL = "email"
    UID = "uid"
    PHONE = "phone"
