"""Whether a record may be written under the ContactSync's consent policy, at an instant (pure).

What is asked is each purpose of ``spec.consent.purposes``, or consent as a whole when none
are listed. A grant counts only for what it names: a yes word on its own grants consent as a
whole; a purpose on its own, or ``purpose=`` a yes word, grants that purpose. So with
purposes listed a bare "yes" is not enough, and with none listed a record that only names
purposes has not consented as a whole. A no (or an unreadable statement) about consent as a
whole is about every purpose. A no outweighs any grant, doubt outweighs grants too, and a
grant whose ``until`` has passed is none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from contactsync_api.spec import ConsentMode, ConsentSpec
from contactsync_worker.contacts.consent_values import (
    Stance,
    Statement,
    Vocabulary,
    read_statements,
)


class ConsentVerdict(StrEnum):
    """What a record's consent allows; every value but GRANTED is a refusal, and says why."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    UNREADABLE = "unreadable"  # something about what is asked could not be read
    EXPIRED = "expired"
    NOT_GRANTED = "not_granted"  # recorded, but not for what is asked
    MISSING = "missing"  # nothing recorded, or only empty values

    @property
    def allows(self) -> bool:
        return self is ConsentVerdict.GRANTED


# When verdicts differ (by purpose, by record), the first of these found names the refusal.
_WORST_FIRST = (
    ConsentVerdict.WITHDRAWN,
    ConsentVerdict.UNREADABLE,
    ConsentVerdict.EXPIRED,
    ConsentVerdict.NOT_GRANTED,
    ConsentVerdict.MISSING,
    ConsentVerdict.GRANTED,
)


def judge(recorded: Sequence[str] | None, policy: ConsentSpec, at: datetime) -> ConsentVerdict:
    """The verdict on a record whose consent property holds ``recorded`` (None: it has no
    such property), at ``at``: the run's time, the same for every record of a run."""
    if policy.mode is ConsentMode.NOT_REQUIRED:
        return ConsentVerdict.GRANTED
    statements = read_statements(recorded or (), Vocabulary.of(policy))
    if not statements:  # no property, or only empty values
        return ConsentVerdict.MISSING
    asked: list[str | None] = [purpose.strip().casefold() for purpose in policy.purposes]
    return gravest(_about(statements, purpose, at) for purpose in asked or [None])


def gravest(verdicts: Iterable[ConsentVerdict]) -> ConsentVerdict:
    """The verdict that names a refusal when several apply (GRANTED only if all grant)."""
    found = set(verdicts)
    return next(verdict for verdict in _WORST_FIRST if verdict in found)


def _about(statements: list[Statement], purpose: str | None, at: datetime) -> ConsentVerdict:
    """The verdict on one purpose (None: consent as a whole)."""
    relevant = [
        s
        for s in statements
        if s.purpose == purpose or (s.purpose is None and s.stance is not Stance.GRANTED)
    ]
    stances = {s.stance for s in relevant}
    if Stance.WITHDRAWN in stances:
        return ConsentVerdict.WITHDRAWN
    if Stance.UNREADABLE in stances:
        return ConsentVerdict.UNREADABLE
    grants = [s for s in relevant if s.stance is Stance.GRANTED]
    if any(s.until is None or at < s.until for s in grants):
        return ConsentVerdict.GRANTED
    return ConsentVerdict.EXPIRED if grants else ConsentVerdict.NOT_GRANTED
