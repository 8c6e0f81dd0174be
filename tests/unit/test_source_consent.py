"""Where and in which words each source records consent: what it sets, else spec.consent."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from contactsync_api.source_consent import SourceConsentSpec, source_consent
from contactsync_api.spec import ConsentMode, ConsentSpec
from contactsync_worker.contacts.consent import ConsentVerdict, judge

POLICY = ConsentSpec.model_validate(
    {
        "mode": "Required",
        "property": "X-CONSENT",
        "purposes": ["directory"],
        "grantedValues": ["granted", "yes"],
        "withdrawnValues": ["nope"],
    }
)
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def own(**fields: Any) -> SourceConsentSpec:
    return SourceConsentSpec.model_validate(fields)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        # Nothing of its own: the spec's policy as it is.
        (None, ("X-CONSENT", ["granted", "yes"], ["nope"])),
        ({}, ("X-CONSENT", ["granted", "yes"], ["nope"])),
        ({"property": "description"}, ("description", ["granted", "yes"], ["nope"])),
        ({"grantedValues": ["ja"]}, ("X-CONSENT", ["ja"], ["nope"])),
        ({"withdrawnValues": ["nein"]}, ("X-CONSENT", ["granted", "yes"], ["nein"])),
        # An empty list of its own is a choice: no extra words of refusal for this source.
        ({"withdrawnValues": []}, ("X-CONSENT", ["granted", "yes"], [])),
        (
            {"property": "optIn", "grantedValues": ["ja"], "withdrawnValues": ["nein"]},
            ("optIn", ["ja"], ["nein"]),
        ),
    ],
)
def test_a_source_takes_what_it_sets_and_the_rest_from_spec_consent(
    setting: dict[str, Any] | None, expected: tuple[str, list[str], list[str]]
) -> None:
    resolved = source_consent(POLICY, None if setting is None else own(**setting))
    assert (resolved.property, resolved.granted_values, resolved.withdrawn_values) == expected
    # What is asked is the ContactSync's alone.
    assert (resolved.mode, resolved.purposes) == (ConsentMode.REQUIRED, ["directory"])


def test_the_same_value_is_judged_by_each_source_in_its_own_words() -> None:
    directory = source_consent(POLICY, own(grantedValues=["ja"], withdrawnValues=["nein"]))
    assert judge(["directory=ja"], directory, NOW) is ConsentVerdict.GRANTED
    assert judge(["directory=ja"], POLICY, NOW) is ConsentVerdict.UNREADABLE
    assert judge(["directory=nein"], directory, NOW) is ConsentVerdict.WITHDRAWN
    # Words that always mean no stay no in every source's vocabulary.
    assert judge(["directory=revoked"], directory, NOW) is ConsentVerdict.WITHDRAWN
    # The spec's withdrawn word is not this source's, which replaced them.
    assert judge(["directory=nope"], directory, NOW) is ConsentVerdict.UNREADABLE


def test_not_required_stays_not_required_whatever_a_source_records() -> None:
    lawful = ConsentSpec(mode=ConsentMode.NOT_REQUIRED)
    resolved = source_consent(lawful, own(property="description"))
    assert judge(None, resolved, NOW) is ConsentVerdict.GRANTED


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ({"grantedValues": ["ja", "No"]}, "cannot mean both yes and no"),
        ({"grantedValues": ["ja"], "withdrawnValues": ["JA"]}, "cannot mean both yes and no"),
        ({"grantedValues": []}, "grantedValues"),
        ({"grantedValues": ["ja", "ja"]}, "duplicate value 'ja'"),
        ({"property": "X CONSENT"}, "property"),
        # The policy is the ContactSync's, not a source's.
        ({"mode": "NotRequired"}, "mode"),
    ],
)
def test_a_source_setting_that_contradicts_itself_is_refused(
    setting: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        own(**setting)
    assert named in str(refused.value)
