"""What is done with a value that is not what its field says (``spec.values``).

An email that is no email address, or a phone that is no phone number, would be written
downstream as it is, and merge on as an identity. The worker checks the syntax of every
email and phone once, in the engine, whatever source read it (``contacts.value_checks``):
``invalid: Drop`` drops such a value and writes the rest of the record; ``Quarantine`` sets
the whole record aside, as a malformed one is. Phones may be written as E.164
(``+4930123456``), numbers without a country code read in ``defaultRegion``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import phonenumbers
from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from contactsync_api.rules import Rule, RuledModel, rules_waived
from contactsync_api.values import SpecModel


class InvalidValues(StrEnum):
    DROP = "Drop"
    QUARANTINE = "Quarantine"


class PhoneFormat(StrEnum):
    AS_WRITTEN = "AsWritten"
    E164 = "E164"


class PhoneValuesSpec(RuledModel, SpecModel):
    """How phone numbers are read and written."""

    rules = (
        Rule(
            # has(): the CRD's default ({}) is checked before the defaults inside it are filled.
            cel="!has(self.normalize) || self.normalize != 'E164' || has(self.defaultRegion)",
            message=(
                "values.phones.defaultRegion: normalize E164 needs the region numbers without "
                "a country code are read in, e.g. DE"
            ),
            holds=lambda m: m.normalize is not PhoneFormat.E164 or m.default_region is not None,
            field_path=".defaultRegion",
        ),
    )

    normalize: PhoneFormat = Field(
        default=PhoneFormat.AS_WRITTEN,
        description=(
            "AsWritten: a valid number is written as its source wrote it. E164: as +4930123456 "
            "(an extension kept as ;ext=102), numbers without a country code read in "
            "defaultRegion; phone identities then compare in that form."
        ),
    )
    default_region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = Field(
        default=None,
        description=(
            "ISO 3166 country code (DE, FR, US) of numbers written without a country code. "
            "Unset: such numbers are checked for the characters and length of a phone number "
            "only."
        ),
    )

    @field_validator("default_region")
    @classmethod
    def _region_has_a_numbering_plan(cls, value: str | None, info: ValidationInfo) -> str | None:
        # CEL knows no numbering plans; refused here, before any number is read in it.
        known = value is None or value in phonenumbers.SUPPORTED_REGIONS
        if not known and not rules_waived(info):
            raise ValueError(f"{value!r} is no country code with a telephone numbering plan")
        return value


class ValuesSpec(SpecModel):
    """What is done with an email or phone value that is not one."""

    invalid: InvalidValues = Field(
        default=InvalidValues.DROP,
        description=(
            "Drop: an email or phone that is not one is dropped and the rest of the record "
            "written. Quarantine: the whole record is set aside and reported by source and "
            "id. Either way it is counted in status.regions[].lastSync and the audit, never "
            "shown."
        ),
    )
    phones: PhoneValuesSpec = Field(
        default=PhoneValuesSpec(), description="How phone numbers are read and written."
    )
