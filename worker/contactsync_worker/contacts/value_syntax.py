"""Whether an email or a phone is one, by its syntax alone (pure: no DNS, no network).

Emails are read by ``email-validator`` with deliverability checks off: an address must have
the form of one and a domain that could receive mail. Domains reserved so that they never do
(``invalid``, ``localhost``, ``local``, ``onion``, ``arpa``) are refused; ``test`` is kept,
being the name test directories are given. The address is kept as written.

Phones are read by ``phonenumbers``: a number must have a possible length for its country.
Whether a range is assigned is not asked: numbering plans change faster than the library's
metadata, and a contact's number is not wrong because the library is older than it.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from contactsync_api.contact_values import PhoneFormat, PhoneValuesSpec

# A number written without a country code and read without a default region: only its
# characters and length can be checked (an extension, ;ext=102 or "ext. 102", may follow).
_NATIONAL = re.compile(r"[0-9 ()./-]+(?:(?:;ext=|\s*(?:ext\.?|x)\s*)[0-9]+)?", re.IGNORECASE)
_MIN_DIGITS, _MAX_DIGITS = 3, 17  # E.164 allows 15, an extension adds a few more
_TEL_SCHEME = re.compile(r"^tel:", re.IGNORECASE)


def is_email(text: str) -> bool:
    try:
        # test_environment admits the test domain and turns DNS off; no other effect.
        validate_email(text.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return False
    return True


def checked_phone(text: str, rules: PhoneValuesSpec) -> str | None:
    """The phone to write: as written, or in E.164 when ``rules`` say so; None when ``text``
    is no phone number."""
    written = _TEL_SCHEME.sub("", text.strip())
    try:
        number = phonenumbers.parse(written, rules.default_region)
    except phonenumbers.NumberParseException as exc:
        unplaceable = exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
        if unplaceable and rules.default_region is None and not written.startswith("+"):
            return text if _looks_national(written) else None
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    if rules.normalize is PhoneFormat.E164:
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return f"{e164};ext={number.extension}" if number.extension else e164
    return text


def _looks_national(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    return _NATIONAL.fullmatch(text) is not None and _MIN_DIGITS <= digits <= _MAX_DIGITS
