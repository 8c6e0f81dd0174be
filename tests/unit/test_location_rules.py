"""Two destinations never write one place, and no destination writes where a source reads:
the rules come from each kind's declared location, and see no further than it."""

from __future__ import annotations

from typing import Any

import pytest

from contactsync_api.locations import location_rules
from contactsync_api.manifest import ManifestError, parse_contact_sync
from contactsync_api.spec import DestinationSpec, SourceSpec
from tests.corpus.manifests import example


def quickstart_with(destinations: list[dict[str, Any]]) -> dict[str, Any]:
    document = example("quickstart")
    document["spec"]["destinations"] = destinations
    return document


def carddav(name: str, url: str) -> dict[str, Any]:
    return {"name": name, "region": "local", "carddav": {"url": url, "allowInsecure": True}}


def postgres(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "region": "local",
        "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, **fields},
    }


def test_rules_exist_for_the_kinds_that_declare_a_location() -> None:
    messages = [r.message for r in location_rules(SourceSpec.kinds(), DestinationSpec.kinds())]
    assert len(messages) == 3  # carddav twice (destinations, loop), postgres once
    assert any("feedback loop" in m and "carddav url" in m for m in messages)


@pytest.mark.parametrize(
    "destinations",
    [
        [carddav("a", "http://127.0.0.1:5232/alice/a/"), carddav("b", "http://127.0.0.1:5232/b/")],
        [postgres("a"), postgres("b", table="archive")],
        [postgres("a"), postgres("b", schema="archive")],
        [
            postgres("a"),
            {**postgres("b"), "postgres": {"dsnSecretRef": {"name": "pg", "key": "b"}}},
        ],
    ],
    ids=["two-address-books", "two-tables", "two-schemas", "two-connection-strings"],
)
def test_destinations_writing_different_places_are_accepted(
    destinations: list[dict[str, Any]],
) -> None:
    parse_contact_sync(quickstart_with(destinations))


@pytest.mark.parametrize(
    ("destinations", "words"),
    [
        (
            [carddav("a", "http://127.0.0.1:5232/x/"), carddav("b", "http://127.0.0.1:5232/x")],
            "same carddav url",
        ),
        ([postgres("a"), postgres("b", table="contacts")], "same postgres dsnSecretRef"),
        ([carddav("a", "http://127.0.0.1:5232/alice/team")], "feedback loop"),
    ],
    ids=["one-address-book", "one-table-written-with-its-default", "a-source"],
)
def test_destinations_writing_one_place_are_refused(
    destinations: list[dict[str, Any]], words: str
) -> None:
    with pytest.raises(ManifestError) as refused:
        parse_contact_sync(quickstart_with(destinations))
    [problem] = refused.value.problems
    assert problem.startswith("spec.destinations: ")
    assert words in problem


def test_a_file_source_and_an_address_book_are_not_compared() -> None:
    # Different kinds read and write different things, even at one URL.
    document = example("consent-retention")
    document["spec"]["sources"][0]["csv"]["url"] = "https://dav.example.fr/marketing/newsletter/"
    parse_contact_sync(document)
