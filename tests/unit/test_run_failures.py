"""What ``contactsync run`` says, and exits with, for each kind of failed sync."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync_api.errors import ErrorType
from contactsync_api.workflows import SyncSummary
from contactsync_cli.exit_codes import (
    EXIT_INVALID,
    EXIT_MASS_DELETE_BLOCKED,
    EXIT_SYNC_FAILED,
    EXIT_UNAVAILABLE,
)
from contactsync_cli.progress import RunProgress, summary_table
from contactsync_cli.run_failures import application_failure, exit_code_of


@pytest.mark.parametrize(
    ("error_type", "code"),
    [
        (ErrorType.SOURCE_UNREACHABLE, EXIT_UNAVAILABLE),
        (ErrorType.SOURCE_AUTHENTICATION_REFUSED, EXIT_UNAVAILABLE),
        (ErrorType.SOURCE_NOT_FOUND, EXIT_UNAVAILABLE),
        (ErrorType.SOURCE_UNAVAILABLE, EXIT_UNAVAILABLE),
        (ErrorType.CURSOR_EXPIRED, EXIT_UNAVAILABLE),
        (ErrorType.DESTINATION_AUTHENTICATION_REFUSED, EXIT_UNAVAILABLE),
        (ErrorType.MASS_DELETE_BLOCKED, EXIT_MASS_DELETE_BLOCKED),
        (ErrorType.CONFIGURATION, EXIT_INVALID),
        (ErrorType.STORE_UNAVAILABLE, EXIT_SYNC_FAILED),
        (ErrorType.UNAUTHORIZED, EXIT_SYNC_FAILED),
        (ErrorType.UNEXPECTED, EXIT_SYNC_FAILED),
    ],
)
def test_each_error_type_has_its_exit_code(error_type: ErrorType, code: int) -> None:
    assert exit_code_of(error_type) == code


def test_every_error_type_of_the_vocabulary_has_words() -> None:
    for error_type in ErrorType:
        failure = application_failure(error_type.value, "where", None)
        assert failure.words


def test_a_missing_secret_key_is_said_as_the_file_to_write() -> None:
    message = (
        "CardDAV source 'team' at dav.example:443: Secret 'dav' has no key 'password' mounted "
        "at /s/dav/password: check the Secret exists in the ContactSync's namespace and holds "
        "that key; nothing was deleted on account of source team"
    )
    failure = application_failure("ConfigurationError", message, Path("/s"))
    assert failure.exit_code == EXIT_INVALID
    assert failure.words == (
        "the configuration cannot be used: CardDAV source 'team' at dav.example:443: "
        "Secret 'dav' has no key 'password': write it to /s/dav/password (--secrets-dir /s: "
        "one directory per Secret, one file per key); nothing was deleted on account of "
        "source team"
    )


def test_a_librarys_words_quoted_by_the_worker_are_cut_to_its_class() -> None:
    message = "CardDAV source 'team' at h:1: REPORT request failed (ConnectError: [Errno 111] x)"
    failure = application_failure("SourceUnreachable", message, None)
    assert failure.words == (
        "a source could not be reached: CardDAV source 'team' at h:1: REPORT request failed "
        "(ConnectError)"
    )


def test_an_unexpected_error_shows_its_class_only() -> None:
    failure = application_failure("UnexpectedError", "KeyError: 'alice@example.org'", None)
    assert "alice" not in failure.words
    assert failure.words.startswith("the worker failed unexpectedly (KeyError)")
    assert application_failure(None, "no class here", None).exit_code == EXIT_SYNC_FAILED


def test_the_summary_table_has_a_row_per_source_the_removals_and_the_total() -> None:
    progress = RunProgress()
    progress.add("hr", SyncSummary(created=3, pages=1))
    progress.add("hr", SyncSummary(updated=2, skipped_no_consent=1, dropped_phones=2, pages=1))
    progress.removals = SyncSummary(deleted=4, held=1)
    lines = summary_table(progress, ["hr", "crm"])
    assert lines[0].split() == [
        "pages",
        "created",
        "updated",
        "deleted",
        "unchanged",
        "no",
        "consent",
        "erased",
        "quarantined",
        "dropped",
        "values",
        "held",
    ]
    rows = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in lines[1:]}
    assert rows["hr"] == [2, 3, 2, 0, 0, 1, 0, 0, 2, 0]
    assert rows["crm"] == [0] * 10
    assert rows["(removals)"] == [0, 0, 0, 4, 0, 0, 0, 0, 0, 1]
    assert rows["total"] == [2, 3, 2, 4, 0, 1, 0, 0, 2, 1]
