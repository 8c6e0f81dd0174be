"""What the worker logs when an activity fails: an expected outcome is one line naming its type,
without a traceback or a doubled prefix; a crash keeps its traceback (where, not what: frames
and exception types, no messages); third-party records keep only an exception's type."""

from __future__ import annotations

import json
import logging

import pytest

from contactsync_api.errors import MassDeleteBlocked, SourceAuthenticationRefused
from contactsync_worker.failures import reported
from contactsync_worker.logs import JsonFormatter, ThirdPartyDetailFilter


def as_written(record: logging.LogRecord) -> dict[str, str]:
    """The record as the worker's handler writes it."""
    ThirdPartyDetailFilter().filter(record)
    line: dict[str, str] = json.loads(JsonFormatter().format(record))
    return line


def crash_in_a_page(email: str = "erika@example.org") -> None:
    """A bug: a lookup of a key that is not there, whose message quotes the key."""
    contacts = {"a": 1}
    contacts[email]


@pytest.mark.parametrize(
    "error",
    [
        MassDeleteBlocked("this sync would delete 5 of 10 contacts of phonebook"),
        SourceAuthenticationRefused("CardDAV source 'team': authentication failed (HTTP 401)"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_an_expected_outcome_is_one_line_naming_its_type_once(
    caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    with caplog.at_level(logging.DEBUG):
        failure = reported(error, "page of source team")
    [record] = caplog.records
    line = as_written(record)
    name = type(error).__name__
    assert line["severity"] == "warning"
    assert line["error"] == name == failure.type
    assert line["message"] == f"page of source team failed with {name}: {error}"
    assert line["message"].count(name) == 1
    assert "traceback" not in line
    assert failure.message == str(error), "the failure's message is the error's own"


def test_a_crash_keeps_its_traceback_without_the_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    try:
        crash_in_a_page()
    except KeyError as exc:
        with caplog.at_level(logging.DEBUG):
            failure = reported(exc, "page of source team")
    [record] = caplog.records
    line = as_written(record)
    assert line["severity"] == "error"
    assert line["error"] == "KeyError"
    assert line["message"] == "page of source team failed unexpectedly (KeyError)"
    assert "crash_in_a_page" in line["traceback"]
    assert line["traceback"].endswith("KeyError")
    assert "erika" not in json.dumps(line), "no message of the error, which quotes data"
    assert failure.type == "UnexpectedError"


def test_the_traceback_names_each_error_of_the_chain_oldest_first() -> None:
    try:
        try:
            crash_in_a_page()
        except KeyError as exc:
            words = "wrapped"
            raise RuntimeError(words) from exc
    except RuntimeError as exc:
        record = logging.LogRecord(
            "contactsync_worker.activities", logging.ERROR, __file__, 1, "boom", (), None
        )
        record.exc_info = (RuntimeError, exc, exc.__traceback__)
    trace = as_written(record)["traceback"]
    assert trace.index("KeyError") < trace.index("RuntimeError")
    assert "wrapped" not in trace


def test_a_third_party_record_keeps_only_the_exceptions_type() -> None:
    try:
        crash_in_a_page()
    except KeyError as exc:
        record = logging.LogRecord(
            "temporalio.activity", logging.WARNING, __file__, 1, "Completing", (), None
        )
        record.exc_info = (KeyError, exc, exc.__traceback__)
    line = as_written(record)
    assert line["error"] == "KeyError"
    assert "traceback" not in line
