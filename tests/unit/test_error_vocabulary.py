"""One error vocabulary across the Temporal boundary: the table decides each error's type and
whether it is retried; activities, workflows and the operator all read it from there."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    ApplicationErrorCategory,
    RetryState,
)

from contactsync_api import errors
from contactsync_api.errors import (
    DESTINATION_ERRORS,
    ERRORS,
    NON_RETRYABLE,
    SOURCE_ERRORS,
    ConfigurationError,
    ContactSyncError,
    CursorExpired,
    DestinationAuthenticationRefused,
    DestinationNotFound,
    DestinationUnavailable,
    DestinationUnreachable,
    EndpointErrors,
    ErrorType,
    MassDeleteBlocked,
    SourceAuthenticationRefused,
    SourceNotFound,
    SourceUnavailable,
    SourceUnreachable,
    StoreUnavailable,
    Unauthorized,
    classify,
)
from contactsync_api.workflows import RegionRunPlan, SourceFailure, SyncProgress
from contactsync_operator.temporal import worker_failure
from contactsync_worker.credentials import CredentialsError
from contactsync_worker.destinations.carddav import DestinationConflict
from contactsync_worker.failures import application_error
from contactsync_worker.store import PseudonymKeyMismatch
from contactsync_worker.transport import EgressRefused, InsecureTransportError
from contactsync_worker.workflows import RUN_STOPPERS, WRITE_RETRY, source_retry, sources_failed

HISTORIES = Path(__file__).parents[1] / "histories"
WORKER_GUIDE = Path(__file__).parents[2] / "docs" / "worker.md"

# The names are what users search for and what recorded histories hold: spelled out here so
# that renaming one fails a test.
EXPECTED: list[tuple[type[ContactSyncError], str, bool]] = [
    (ConfigurationError, "ConfigurationError", False),
    (InsecureTransportError, "ConfigurationError", False),
    (EgressRefused, "ConfigurationError", False),
    (CredentialsError, "ConfigurationError", False),
    (CursorExpired, "CursorExpired", False),
    (MassDeleteBlocked, "MassDeleteBlocked", False),
    (Unauthorized, "Unauthorized", False),
    (SourceUnavailable, "SourceUnavailable", True),
    (SourceUnreachable, "SourceUnreachable", True),
    (SourceAuthenticationRefused, "SourceAuthenticationRefused", False),
    (SourceNotFound, "SourceNotFound", False),
    (DestinationUnavailable, "DestinationUnavailable", True),
    (DestinationUnreachable, "DestinationUnreachable", True),
    (DestinationAuthenticationRefused, "DestinationAuthenticationRefused", False),
    (DestinationNotFound, "DestinationNotFound", False),
    (DestinationConflict, "DestinationUnavailable", True),
    (StoreUnavailable, "StoreUnavailable", True),
]


def vocabulary_classes() -> set[type[ContactSyncError]]:
    return {
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, ContactSyncError) and cls is not ContactSyncError
    }


def test_every_error_type_but_the_fallback_has_exactly_one_row() -> None:
    types = [row.type for row in ERRORS.values()]
    assert sorted(types) == sorted(set(ErrorType) - {ErrorType.UNEXPECTED})


def test_every_error_class_of_the_vocabulary_has_its_own_row() -> None:
    assert set(ERRORS) == vocabulary_classes()
    assert vocabulary_classes() <= {cls for cls, _, _ in EXPECTED}, "spell out its type below"


@pytest.mark.parametrize(
    ("cls", "name", "retryable"), EXPECTED, ids=lambda v: getattr(v, "__name__", None)
)
def test_an_error_has_the_type_and_retryability_of_its_nearest_row(
    cls: type[ContactSyncError], name: str, retryable: bool
) -> None:
    error = cls("what went wrong")
    assert (error.error_type, error.retryable) == (ErrorType(name), retryable)


@pytest.mark.parametrize(
    ("cls", "name", "retryable"), EXPECTED, ids=lambda v: getattr(v, "__name__", None)
)
def test_an_activity_hands_an_error_to_temporal_under_its_type(
    cls: type[ContactSyncError], name: str, retryable: bool
) -> None:
    failure = application_error(cls("what went wrong"))
    assert (failure.type, failure.non_retryable) == (name, not retryable)
    assert failure.message == "what went wrong", "the message is the error's own, unprefixed"


@pytest.mark.parametrize(
    "error",
    [KeyError("x"), PseudonymKeyMismatch("restore that key")],
    ids=lambda e: type(e).__name__,
)
def test_an_error_outside_the_vocabulary_is_retried_as_unexpected_and_named_in_the_message(
    error: Exception,
) -> None:
    """Retried, as Temporal retries any exception; the class moves from the type into the
    message, where a person reading status still finds it."""
    assert classify(error).type is ErrorType.UNEXPECTED
    failure = application_error(error)
    assert (failure.type, failure.non_retryable) == ("UnexpectedError", False)
    assert failure.message == f"{type(error).__name__}: {error}"


def test_retry_policies_never_retry_exactly_what_the_table_calls_non_retryable() -> None:
    plan = RegionRunPlan(sources=("team",), destinations=("phonebook",))
    from_table = {row.type.value for row in ERRORS.values() if not row.retryable}
    for policy in (source_retry(plan), WRITE_RETRY):
        assert set(policy.non_retryable_error_types or ()) == from_table
    assert {t.value for t in NON_RETRYABLE} == from_table


def test_a_type_name_outside_the_vocabulary_reads_as_unexpected() -> None:
    assert ErrorType.parse("MassDeleteBlocked") is ErrorType.MASS_DELETE_BLOCKED
    assert ErrorType.parse("ConsentMissing") is ErrorType.UNEXPECTED
    assert ErrorType.parse(None) is ErrorType.UNEXPECTED


def test_the_types_recorded_runs_failed_with_are_still_in_the_vocabulary() -> None:
    """What the operator reads of them: the first application failure under the wrappers."""
    failed_with = set()
    for path in HISTORIES.glob("*.json"):
        for event in json.loads(path.read_text())["events"]:
            attributes = event.get("workflowExecutionFailedEventAttributes")
            if attributes:
                failure = attributes["failure"]
                while "applicationFailureInfo" not in failure:
                    failure = failure["cause"]
                failed_with.add(failure["applicationFailureInfo"]["type"])
    assert failed_with == {"MassDeleteBlocked", "SourceUnavailable"}
    assert all(ErrorType.parse(name) is not ErrorType.UNEXPECTED for name in failed_with)


def activity_failed(cause: ApplicationError) -> WorkflowFailureError:
    """A run failed the way Temporal reports a failed activity it did not retry."""
    activity = ActivityError(
        "Activity task failed",
        scheduled_event_id=5,
        started_event_id=6,
        identity="worker",
        activity_type="apply_removals",
        activity_id="2",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    activity.__cause__ = cause
    return WorkflowFailureError(cause=activity)


def test_the_operator_reads_the_type_the_worker_gave_not_the_library_error_beneath() -> None:
    refused = ApplicationError(
        "PostgreSQL destination phonebook is unavailable", type="DestinationUnavailable"
    )
    refused.__cause__ = ApplicationError("connection refused by 10.0.0.7", type="OperationalError")
    assert worker_failure(activity_failed(refused)) == (
        ErrorType.DESTINATION_UNAVAILABLE,
        "PostgreSQL destination phonebook is unavailable",
    )


def test_the_operator_reads_a_type_it_does_not_know_as_unexpected() -> None:
    newer = ApplicationError("a newer worker's refusal", type="SomethingNew")
    assert worker_failure(activity_failed(newer)) == (
        ErrorType.UNEXPECTED,
        "a newer worker's refusal",
    )


def test_the_worker_guide_explains_every_error_type() -> None:
    guide = WORKER_GUIDE.read_text()
    assert [t for t in ErrorType if f"| `{t}` |" not in guide] == []


@pytest.mark.parametrize("side", [SOURCE_ERRORS, DESTINATION_ERRORS], ids=["source", "destination"])
def test_every_way_a_side_fails_is_still_unavailable_to_code_that_keeps_deletes_safe(
    side: EndpointErrors,
) -> None:
    """Whoever catches SourceUnavailable (so that a source that could not be read is never
    taken for one whose contacts were all deleted) catches a refusal or a 404 as well."""
    for cls in (side.unreachable, side.authentication_refused, side.not_found):
        assert issubclass(cls, side.unavailable)
    assert len(side.types) == 4, "each way has a type of its own"


def test_a_failed_destination_stops_the_run_and_a_failed_source_only_its_step() -> None:
    assert DESTINATION_ERRORS.types <= RUN_STOPPERS
    assert not SOURCE_ERRORS.types & RUN_STOPPERS


def test_an_expected_outcome_is_benign_to_temporal_and_a_crash_is_not() -> None:
    """The SDK logs a benign failure at DEBUG, without the traceback an expected outcome
    does not need; the worker logs it once itself (contactsync_worker.failures)."""
    assert application_error(MassDeleteBlocked("x")).category is ApplicationErrorCategory.BENIGN
    assert application_error(KeyError("x")).category is ApplicationErrorCategory.UNSPECIFIED


def run_with(*failures: SourceFailure) -> SyncProgress:
    return SyncProgress(
        run_id="r", failed_sources=tuple(f.source for f in failures), failures=failures
    )


def test_a_run_whose_source_refused_the_login_fails_with_that_type_and_its_words() -> None:
    refused = SourceFailure(
        "team", "SourceAuthenticationRefused", "CardDAV source 'team': authentication failed"
    )
    failure = sources_failed(run_with(refused))
    assert (failure.type, failure.non_retryable) == ("SourceAuthenticationRefused", True)
    assert failure.message == (
        "CardDAV source 'team': authentication failed; "
        "nothing was deleted on account of source team"
    )


def test_a_run_whose_sources_failed_differently_names_the_first_type_and_every_reason() -> None:
    failure = sources_failed(
        run_with(
            SourceFailure("hr", "SourceNotFound", "LDAP source 'hr': no such base"),
            SourceFailure("team", "SourceUnreachable", "CardDAV source 'team': refused"),
        )
    )
    assert failure.type == "SourceNotFound"
    assert "no such base" in failure.message
    assert "refused" in failure.message
    assert failure.message.endswith("nothing was deleted on account of sources hr, team")


def test_progress_carried_over_without_reasons_still_fails_as_unavailable() -> None:
    failure = sources_failed(SyncProgress(run_id="r", failed_sources=("hr",)))
    assert failure.type == "SourceUnavailable"
    assert not failure.message.startswith("SourceUnavailable")
