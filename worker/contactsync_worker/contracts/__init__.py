"""What the operator and the worker agree on: canonical contact fields and identity keys.

Workflow and activity inputs and outputs join this module as the worker grows;
every new field gets a default so recorded histories still decode.
"""

from __future__ import annotations

from dataclasses import dataclass
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


SYNC_WORKFLOW = "ContactSyncWorkflow"
RETENTION_WORKFLOW = "RetentionWorkflow"
PURGE_WORKFLOW = "PurgeWorkflow"


@dataclass(frozen=True)
class RegionRunRequest:
    """What a schedule starts: one region of one ContactSync.

    The worker reads the region's configuration from its own mounts; the request only
    says which run this is, so no spec detail (and no contact data) enters history,
    and a spec edit that does not touch the schedule leaves the schedule alone.
    """

    namespace: str
    contact_sync: str
    region: str


@dataclass(frozen=True)
class SyncSummary:
    """What a sync run reports: counts only, never contact data."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped_no_consent: int = 0
    quarantined: int = 0
