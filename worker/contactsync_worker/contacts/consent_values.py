"""Consent values as a source records them, read into statements (pure).

Grammar (docs/worker.md, "Consent values"): a value is statements separated by ``,`` or
``;``; several values (vCard properties, LDAP attribute values, JSON list items) add up.

    statement = word                  a word that means yes or no, or else a purpose
              / purpose "=" word      that purpose granted or withdrawn
              / "until=" instant      the grant just before it holds until then

Words compare trimmed and case-folded. ``until`` takes an ISO 8601 date (the grant holds
until that day begins, UTC) or date-time (UTC unless it has an offset). What cannot be read
(``directory=maybe``, a date that is not one, ``until`` with nothing before it) is kept as
an unreadable statement: it is never taken for a grant, and it casts doubt on the consent
it is about rather than being skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from contactsync_api.consent import ALWAYS_WITHDRAWN, EXPIRY_KEY
from contactsync_api.spec import ConsentSpec

_SEPARATOR = re.compile(r"[,;]")


class Stance(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Statement:
    """One thing a record says about consent."""

    stance: Stance
    purpose: str | None = None  # case-folded; None: consent as a whole
    until: datetime | None = None  # a grant's end; None: no end


@dataclass(frozen=True)
class Vocabulary:
    """The words that mean yes and no, case-folded."""

    granted: frozenset[str]
    withdrawn: frozenset[str]

    @classmethod
    def of(cls, policy: ConsentSpec) -> Vocabulary:
        withdrawn = frozenset(_fold(w) for w in (*ALWAYS_WITHDRAWN, *policy.withdrawn_values))
        # A word on both lists means no: doubt is never resolved towards consent.
        granted = frozenset(_fold(w) for w in policy.granted_values) - withdrawn
        return cls(granted, withdrawn)

    def stance(self, word: str) -> Stance | None:
        folded = _fold(word)
        if folded in self.withdrawn:
            return Stance.WITHDRAWN
        if folded in self.granted:
            return Stance.GRANTED
        return None


def read_statements(values: Iterable[str], words: Vocabulary) -> list[Statement]:
    """Every statement of every value, in order."""
    statements: list[Statement] = []
    for value in values:
        statements += _read_value(value, words)
    return statements


def _read_value(value: str, words: Vocabulary) -> list[Statement]:
    statements: list[Statement] = []
    for token in (t.strip() for t in _SEPARATOR.split(value)):
        if not token:
            continue
        key, equals, word = token.partition("=")
        if not equals:
            stance = words.stance(token)
            if stance is None:  # neither yes nor no: it names a purpose, granted
                statements.append(Statement(Stance.GRANTED, _fold(token)))
            else:
                statements.append(Statement(stance))
        elif _fold(key) == EXPIRY_KEY:
            _date_last(statements, word)
        elif not key.strip():
            statements.append(Statement(Stance.UNREADABLE))
        else:
            statements.append(Statement(words.stance(word) or Stance.UNREADABLE, _fold(key)))
    return statements


def _date_last(statements: list[Statement], text: str) -> None:
    """Give the statement before ``until=`` its end; a withdrawal has none (a no does not
    lapse). A date that is not one makes that grant unreadable: it may have ended."""
    if not statements:
        statements.append(Statement(Stance.UNREADABLE))
        return
    last = statements[-1]
    if last.stance is not Stance.GRANTED:
        return
    until = parse_instant(text)
    if until is None:
        statements[-1] = Statement(Stance.UNREADABLE, last.purpose)
    else:
        statements[-1] = replace(last, until=min(until, last.until or until))


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 date or date-time as an aware datetime (UTC when no offset is given)."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)


def _fold(word: str) -> str:
    return word.strip().casefold()
