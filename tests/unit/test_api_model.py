"""The typed model: examples parse, defaults match the CRD, errors name the field."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contactsync_api.durations import DurationError, to_timedelta
from contactsync_api.fields import IdentityKey
from contactsync_api.manifest import ManifestError, field_path, parse_contact_sync
from contactsync_api.spec import ConsentMode, DeletionPolicy, Overlap
from tests.corpus.manifests import INVALID, MODEL_ONLY, InvalidCase, example, example_names


@pytest.mark.parametrize("name", example_names())
def test_every_example_parses(name: str) -> None:
    resource = parse_contact_sync(example(name))
    assert resource.name == example(name)["metadata"]["name"]


def test_defaults_are_the_safe_ones() -> None:
    spec = parse_contact_sync(example("quickstart")).spec
    assert spec.identity == [IdentityKey.EMAIL, IdentityKey.UID]
    assert spec.deletes.max_delete_percent == 20
    assert spec.deletion_policy is DeletionPolicy.RETAIN
    assert spec.schedule.overlap is Overlap.SKIP
    assert spec.schedule.time_zone == "UTC"
    assert spec.retention.audit_log == "400d"
    assert spec.regions[0].workers.replicas == 1


def test_consent_defaults_to_required() -> None:
    document = example("quickstart")
    del document["spec"]["consent"]
    assert parse_contact_sync(document).spec.consent.mode is ConsentMode.REQUIRED


def test_user_strings_are_kept_as_written() -> None:
    document = example("multi-region")
    spec = parse_contact_sync(document).spec
    assert spec.schedule.cron == document["spec"]["schedule"]["cron"]
    assert spec.schedule.jitter == "2m"


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_model_refuses_the_invalid_corpus_at_the_same_field(case: InvalidCase) -> None:
    with pytest.raises(ManifestError) as refused:
        parse_contact_sync(case.manifest("x"))
    assert any(p.startswith(case.refused_at) for p in refused.value.problems), refused.value


@pytest.mark.parametrize("case", MODEL_ONLY, ids=[c.id for c in MODEL_ONLY])
def test_model_refuses_what_no_cel_rule_can_check_naming_the_field(case: InvalidCase) -> None:
    with pytest.raises(ManifestError) as refused:
        parse_contact_sync(case.manifest("x"))
    [problem] = refused.value.problems
    assert problem.startswith(f"{case.refused_at}: "), problem
    for word in case.words:
        assert word in problem, problem


REFUSED_BY_RULES = [
    case
    for case in INVALID + MODEL_ONLY
    if case in MODEL_ONLY
    or case.id.startswith(("cron-minute", "interval-one", "quantity-", "secret-name-", "two-"))
    or case.id in {"destination-is-its-own-source", "ldaps-with-start-tls", "file-path-climbs-out"}
]


@pytest.mark.parametrize("case", REFUSED_BY_RULES, ids=[c.id for c in REFUSED_BY_RULES])
def test_waived_rules_read_a_spec_the_rules_refuse(case: InvalidCase) -> None:
    # What the finalizer reads, to delete the schedules of a spec stored before a rule existed.
    resource = parse_contact_sync(case.manifest("x"), rules=False)
    assert resource.name == "x"


def test_waived_rules_still_refuse_a_spec_of_the_wrong_shape() -> None:
    document = example("quickstart")
    document["spec"]["fields"] = ["socialSecurityNumber"]
    with pytest.raises(ManifestError):
        parse_contact_sync(document, rules=False)


def test_every_time_zone_of_the_examples_is_known() -> None:
    for name in example_names():
        parse_contact_sync(example(name))  # Europe/Berlin, Europe/Paris, and UTC by default


def test_wrong_kind_and_missing_name_are_reported_together() -> None:
    document = example("quickstart")
    document["kind"] = "ConfigMap"
    document["metadata"] = {}
    with pytest.raises(ManifestError) as refused:
        parse_contact_sync(document)
    assert refused.value.problems == [
        "kind: expected ContactSync, got 'ConfigMap'",
        "metadata.name: required",
    ]


def test_field_path_formats_indexes() -> None:
    assert field_path(("sources", 0, "carddav", "url")) == "spec.sources[0].carddav.url"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("400d", timedelta(days=400)),
        ("0d", timedelta(0)),
        ("1500ms", timedelta(seconds=1.5)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert to_timedelta(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m15", "1h 30m", "-1d", "1y"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(DurationError):
        to_timedelta(text)
