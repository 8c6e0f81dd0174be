"""Consent values read and judged: words that mean no, purposes, structured grants, expiry,
and a ContactSync's own vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from contactsync_api.consent import ALWAYS_WITHDRAWN, DEFAULT_GRANTED
from contactsync_api.rules import RuleViolation
from contactsync_api.spec import ConsentMode, ConsentSpec
from contactsync_worker.contacts.consent import ConsentVerdict, gravest, judge
from contactsync_worker.contacts.consent_values import (
    Stance,
    Statement,
    Vocabulary,
    read_statements,
)

V = ConsentVerdict
NOW = datetime(2026, 6, 1, tzinfo=UTC)
AS_A_WHOLE = ConsentSpec()
DIRECTORY = ConsentSpec(purposes=["directory"])
TWO_PURPOSES = ConsentSpec(purposes=["directory", "events"])
GERMAN = ConsentSpec(granted_values=["ja", "oui"], withdrawn_values=["nein", "widerrufen"])
GERMAN_DIRECTORY = GERMAN.model_copy(update={"purposes": ["directory"]})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("word", [*ALWAYS_WITHDRAWN, " WITHDRAWN ", "Opt-Out", "NO", "False"])
@pytest.mark.parametrize("policy", [AS_A_WHOLE, DIRECTORY, GERMAN], ids=["whole", "purpose", "de"])
def test_a_word_that_means_no_is_never_consent(word: str, policy: ConsentSpec) -> None:
    assert judge((word,), policy, NOW) is V.WITHDRAWN
    assert judge((f"granted, {word}",), policy, NOW) is V.WITHDRAWN
    assert judge(("directory", word), policy, NOW) is V.WITHDRAWN


@pytest.mark.parametrize("word", [*DEFAULT_GRANTED, " Granted ", "YES", "Opt-In"])
def test_a_word_that_means_yes_is_consent_as_a_whole(word: str) -> None:
    assert judge((word,), AS_A_WHOLE, NOW) is V.GRANTED


@pytest.mark.parametrize(
    ("policy", "recorded", "verdict"),
    [
        # Nothing recorded.
        (AS_A_WHOLE, None, V.MISSING),
        (AS_A_WHOLE, ("",), V.MISSING),
        (AS_A_WHOLE, (" , ;",), V.MISSING),
        (DIRECTORY, None, V.MISSING),
        # No purposes listed: only a yes word on its own is consent as a whole.
        (AS_A_WHOLE, ("directory",), V.NOT_GRANTED),
        (AS_A_WHOLE, ("directory=granted",), V.NOT_GRANTED),
        (AS_A_WHOLE, ("pending",), V.NOT_GRANTED),
        (AS_A_WHOLE, ("granted, newsletter=withdrawn",), V.GRANTED),
        (AS_A_WHOLE, ("granted", "withdrawn"), V.WITHDRAWN),
        # Purposes listed: each granted by name; a bare yes names none.
        (DIRECTORY, ("directory",), V.GRANTED),
        (DIRECTORY, ("Directory, newsletter",), V.GRANTED),
        (DIRECTORY, ("newsletter;DIRECTORY",), V.GRANTED),
        (DIRECTORY, ("directory=granted",), V.GRANTED),
        (DIRECTORY, (" directory = Yes ",), V.GRANTED),
        (DIRECTORY, ("directory=withdrawn",), V.WITHDRAWN),
        (DIRECTORY, ("directory=NO",), V.WITHDRAWN),
        (DIRECTORY, ("directory", "directory=revoked"), V.WITHDRAWN),
        (DIRECTORY, ("granted",), V.NOT_GRANTED),
        (DIRECTORY, ("newsletter",), V.NOT_GRANTED),
        (DIRECTORY, ("newsletter=withdrawn, directory",), V.GRANTED),
        (TWO_PURPOSES, ("directory",), V.NOT_GRANTED),
        (TWO_PURPOSES, ("directory; events",), V.GRANTED),
        (TWO_PURPOSES, ("directory", "events=granted"), V.GRANTED),
        (TWO_PURPOSES, ("directory=withdrawn, events",), V.WITHDRAWN),
        # What cannot be read is never a yes, and outweighs one.
        (DIRECTORY, ("directory=maybe",), V.UNREADABLE),
        (DIRECTORY, ("directory, directory=maybe",), V.UNREADABLE),
        (DIRECTORY, ("=granted, directory",), V.UNREADABLE),
        (DIRECTORY, ("directory=granted=yes",), V.UNREADABLE),
        (DIRECTORY, ("newsletter=maybe, directory",), V.GRANTED),
        (AS_A_WHOLE, ("until=2030-01-01",), V.UNREADABLE),
        (AS_A_WHOLE, ("granted;until=someday",), V.UNREADABLE),
        (AS_A_WHOLE, ("granted;until=",), V.UNREADABLE),
    ],
)
def test_verdict(policy: ConsentSpec, recorded: tuple[str, ...] | None, verdict: V) -> None:
    assert judge(recorded, policy, NOW) is verdict


@pytest.mark.parametrize(
    ("policy", "recorded", "when", "verdict"),
    [
        # A date: the grant holds until that day begins, UTC.
        (DIRECTORY, "directory=granted;until=2027-01-01", "2026-12-31T23:59:59", V.GRANTED),
        (DIRECTORY, "directory=granted;until=2027-01-01", "2027-01-01T00:00:00", V.EXPIRED),
        (AS_A_WHOLE, "granted;until=2027-01-01", "2026-06-01T00:00:00", V.GRANTED),
        (AS_A_WHOLE, "granted, until=2026-01-01", "2026-06-01T00:00:00", V.EXPIRED),
        # A date-time: with its offset, else UTC.
        (DIRECTORY, "directory;until=2027-01-01T12:00:00+02:00", "2027-01-01T09:59:59", V.GRANTED),
        (DIRECTORY, "directory;until=2027-01-01T12:00:00+02:00", "2027-01-01T10:00:00", V.EXPIRED),
        (DIRECTORY, "directory;until=2027-01-01T12:00:00Z", "2027-01-01T11:59:59", V.GRANTED),
        (DIRECTORY, "directory;until=2027-01-01T12:00", "2027-01-01T12:00:00", V.EXPIRED),
        # `until` dates only the statement just before it.
        (
            DIRECTORY,
            "directory=granted;until=2026-01-01;newsletter=granted",
            "2026-06-01",
            V.EXPIRED,
        ),
        (DIRECTORY, "newsletter;until=2026-01-01;directory", "2026-06-01T00:00:00", V.GRANTED),
        # Another grant without an end still holds; the earlier of two ends counts.
        (DIRECTORY, "directory;until=2026-01-01, directory", "2026-06-01T00:00:00", V.GRANTED),
        (DIRECTORY, "directory;until=2030-01-01;until=2026-01-01", "2026-06-01", V.EXPIRED),
        # A no does not lapse.
        (DIRECTORY, "directory=withdrawn;until=2026-01-01", "2027-01-01T00:00:00", V.WITHDRAWN),
        # Several purposes: the gravest refusal names the verdict.
        (TWO_PURPOSES, "directory;until=2026-01-01, events", "2026-06-01T00:00:00", V.EXPIRED),
        (TWO_PURPOSES, "directory=no, events;until=2026-01-01", "2026-06-01", V.WITHDRAWN),
    ],
)
def test_grants_expire_at_the_time_given(
    policy: ConsentSpec, recorded: str, when: str, verdict: V
) -> None:
    assert judge((recorded,), policy, at(when)) is verdict


@pytest.mark.parametrize(
    ("policy", "recorded", "verdict"),
    [
        (GERMAN, "Ja", V.GRANTED),
        (GERMAN, "oui", V.GRANTED),
        (GERMAN, "nein", V.WITHDRAWN),
        (GERMAN, " Widerrufen ", V.WITHDRAWN),
        (GERMAN, "no", V.WITHDRAWN),  # the words that always mean no still do
        (GERMAN, "granted", V.NOT_GRANTED),  # replaced: now it would name a purpose
        (GERMAN_DIRECTORY, "directory=ja", V.GRANTED),
        (GERMAN_DIRECTORY, "directory=nein", V.WITHDRAWN),
        (GERMAN_DIRECTORY, "directory=granted", V.UNREADABLE),
    ],
)
def test_a_contact_syncs_own_vocabulary(policy: ConsentSpec, recorded: str, verdict: V) -> None:
    assert judge((recorded,), policy, NOW) is verdict


def test_not_required_writes_whatever_is_recorded() -> None:
    policy = ConsentSpec(mode=ConsentMode.NOT_REQUIRED, purposes=["directory"])
    for recorded in (None, ("withdrawn",), ("directory=no",)):
        assert judge(recorded, policy, NOW) is V.GRANTED


def test_every_verdict_has_its_gravity() -> None:
    for verdict in ConsentVerdict:
        assert gravest([verdict]) is verdict
        assert gravest([verdict, V.GRANTED]) is verdict
    assert gravest([V.MISSING, V.EXPIRED, V.WITHDRAWN]) is V.WITHDRAWN


def test_statements_keep_purpose_stance_and_end() -> None:
    words = Vocabulary.of(DIRECTORY)
    statements = read_statements(
        ["Directory=Granted;until=2027-01-01, newsletter=withdrawn", "events", "yes", "x=?"],
        words,
    )
    assert statements == [
        Statement(Stance.GRANTED, "directory", datetime(2027, 1, 1, tzinfo=UTC)),
        Statement(Stance.WITHDRAWN, "newsletter"),
        Statement(Stance.GRANTED, "events"),
        Statement(Stance.GRANTED),
        Statement(Stance.UNREADABLE, "x"),
    ]


def test_a_word_on_both_lists_means_no() -> None:
    # Admission refuses this; a reader given it anyway resolves doubt towards no.
    policy = ConsentSpec.model_construct(
        mode=ConsentMode.REQUIRED, purposes=[], granted_values=["ja"], withdrawn_values=["Ja"]
    )
    assert judge(("ja",), policy, NOW) is V.WITHDRAWN


@pytest.mark.parametrize(
    ("spec", "where", "words"),
    [
        ({"grantedValues": ["yes", "No"]}, ".grantedValues", "both yes and no"),
        ({"grantedValues": ["ja"], "withdrawnValues": ["JA"]}, ".grantedValues", "yes and no"),
        ({"purposes": ["Withdrawn"]}, ".purposes", "cannot be 'until'"),
        ({"purposes": ["yes"]}, ".purposes", "means yes or no"),
        ({"purposes": ["nein"], "withdrawnValues": ["nein"]}, ".purposes", "means yes or no"),
        ({"purposes": ["until"]}, ".purposes", "cannot be 'until'"),
        ({"grantedValues": ["ja", "ja"]}, ".grantedValues[1]", "duplicate"),
    ],
)
def test_the_spec_refuses_words_that_would_be_misread(
    spec: dict[str, object], where: str, words: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        ConsentSpec.model_validate(spec)
    cause = refused.value.errors()[0]["ctx"]["error"]
    assert isinstance(cause, RuleViolation)
    assert cause.field_path == where
    assert words in str(cause)
