"""The words the record uses for the spec's names, and the annotations it reads.

Labels cannot hold a name or an e-mail address (63 characters of letters, digits, '-', '_'
and '.'), so the controller's identity is given in annotations.
"""

from __future__ import annotations

from pydantic import BaseModel

from contactsync_api.fields import ContactField, IdentityKey

CONTROLLER_ANNOTATION = "contactsync.dev/controller"
REPRESENTATIVE_ANNOTATION = "contactsync.dev/representative"
DPO_ANNOTATION = "contactsync.dev/dpo-contact"
PURPOSE_ANNOTATION = "contactsync.dev/purpose"
DATA_SUBJECTS_ANNOTATION = "contactsync.dev/data-subjects"
ANNOTATIONS = (
    CONTROLLER_ANNOTATION,
    REPRESENTATIVE_ANNOTATION,
    DPO_ANNOTATION,
    PURPOSE_ANNOTATION,
    DATA_SUBJECTS_ANNOTATION,
)

FIELD_NAMES: dict[ContactField, str] = {
    ContactField.FULL_NAME: "full name",
    ContactField.GIVEN_NAME: "given name",
    ContactField.FAMILY_NAME: "family name",
    ContactField.ADDITIONAL_NAMES: "additional (middle) names",
    ContactField.NICKNAME: "nickname",
    ContactField.EMAILS: "e-mail addresses",
    ContactField.PHONES: "telephone numbers",
    ContactField.ADDRESSES: "postal addresses",
    ContactField.ORGANIZATION: "organisation (employer)",
    ContactField.DEPARTMENT: "department",
    ContactField.TITLE: "job title",
    ContactField.BIRTHDAY: "date of birth",
    ContactField.NOTE: "free-text note",
    ContactField.URLS: "web addresses",
    ContactField.PHOTO: "photograph",
    ContactField.CATEGORIES: "categories (groups, tags)",
}

IDENTITY_NAMES: dict[IdentityKey, str] = {
    IdentityKey.EMAIL: "e-mail address",
    IdentityKey.UID: "uid (a vCard's UID, the LDAP uid attribute, a file's uid column or key)",
    IdentityKey.PHONE: "telephone number",
}


def annotation_path(key: str) -> str:
    return f'metadata.annotations["{key}"]'


def given(model: BaseModel, *names: str) -> bool:
    """Whether the manifest wrote the field at ``names`` (nested), rather than the default."""
    current: object = model
    for name in names:
        if not isinstance(current, BaseModel) or name not in current.model_fields_set:
            return False
        current = getattr(current, name)
    return True


def default_note(model: BaseModel, *names: str) -> str:
    return "" if given(model, *names) else " (the default)"


def listing(words: list[str]) -> str:
    if not words:
        return "none"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
