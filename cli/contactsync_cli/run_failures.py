"""A failed sync run as a person reads it and a script tests it: one line saying what went
wrong and where, and the exit code of its kind (contactsync_cli.exit_codes).

The worker hands every failure to Temporal as an ApplicationError whose ``type`` is an
ErrorType (contactsync_api.errors) and whose message names the source or destination, never
a contact or a secret. That type decides the exit code; the message is kept, except for an
error outside the vocabulary, whose message may quote a library's words: of that one only
the exception's class is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
)

from contactsync_api.errors import DESTINATION_ERRORS, SOURCE_ERRORS, ErrorType
from contactsync_cli.exit_codes import (
    EXIT_INVALID,
    EXIT_MASS_DELETE_BLOCKED,
    EXIT_SYNC_FAILED,
    EXIT_UNAVAILABLE,
)
from contactsync_cli.run_logs import without_library_words

_WHAT: dict[ErrorType, str] = {
    ErrorType.SOURCE_UNREACHABLE: "a source could not be reached",
    ErrorType.SOURCE_AUTHENTICATION_REFUSED: "a source refused the credentials",
    ErrorType.SOURCE_NOT_FOUND: "a source does not have what the manifest names",
    ErrorType.SOURCE_UNAVAILABLE: "a source could not be read",
    ErrorType.CURSOR_EXPIRED: "a source changed too often while it was read",
    ErrorType.DESTINATION_UNREACHABLE: "a destination could not be reached",
    ErrorType.DESTINATION_AUTHENTICATION_REFUSED: "a destination refused the credentials",
    ErrorType.DESTINATION_NOT_FOUND: "a destination does not have what the manifest names",
    ErrorType.DESTINATION_UNAVAILABLE: "a destination could not be written",
    ErrorType.MASS_DELETE_BLOCKED: "deletes blocked",
    ErrorType.CONFIGURATION: "the configuration cannot be used",
    ErrorType.STORE_UNAVAILABLE: "the state store is unavailable",
    ErrorType.UNAUTHORIZED: "a request was refused",
}
# CredentialsError's words for a key that is not there (contactsync_worker.credentials).
_MISSING_KEY = re.compile(r"Secret '([^']+)' has no key '([^']+)' mounted at ([^:]+): [^;]*")


@dataclass(frozen=True)
class SyncFailure:
    """Why a run failed: the exit code of its kind and the words for the error line."""

    exit_code: int
    words: str


def exit_code_of(error_type: ErrorType) -> int:
    if error_type in SOURCE_ERRORS.types or error_type in DESTINATION_ERRORS.types:
        return EXIT_UNAVAILABLE
    if error_type == ErrorType.CURSOR_EXPIRED:
        return EXIT_UNAVAILABLE
    if error_type == ErrorType.MASS_DELETE_BLOCKED:
        return EXIT_MASS_DELETE_BLOCKED
    if error_type == ErrorType.CONFIGURATION:
        return EXIT_INVALID
    return EXIT_SYNC_FAILED


def failure_of(error: WorkflowFailureError, secrets_dir: Path | None) -> SyncFailure:
    """The failure of a sync workflow, from the ApplicationError the worker raised."""
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        if isinstance(cause, TerminatedError):
            return SyncFailure(EXIT_SYNC_FAILED, "the sync was terminated")
        if isinstance(cause, CancelledError):
            return SyncFailure(EXIT_SYNC_FAILED, "the sync was cancelled")
        if isinstance(cause, TimeoutError):
            return SyncFailure(EXIT_SYNC_FAILED, "the sync timed out")
        cause = cause.__cause__
    if cause is None:
        return SyncFailure(EXIT_SYNC_FAILED, "the sync failed for a reason Temporal did not say")
    return application_failure(cause.type, cause.message, secrets_dir)


def application_failure(
    type_name: str | None, message: str, secrets_dir: Path | None
) -> SyncFailure:
    error_type = ErrorType.parse(type_name)
    if error_type == ErrorType.UNEXPECTED:
        # "ClassName: the library's words": only the class is ours to show.
        name = message.split(":", 1)[0].strip()
        kind = f" ({name})" if name.isidentifier() else ""
        return SyncFailure(
            EXIT_SYNC_FAILED,
            f"the worker failed unexpectedly{kind}; run again with --debug for its traceback",
        )
    return SyncFailure(
        exit_code_of(error_type), f"{_WHAT[error_type]}: {_local(message, secrets_dir)}"
    )


def _local(message: str, secrets_dir: Path | None) -> str:
    """A missing Secret key, said the way a local run provides one: a file to write."""

    def missing(match: re.Match[str]) -> str:
        secret, key, path = match.groups()
        where = f"--secrets-dir {secrets_dir}" if secrets_dir else "--secrets-dir"
        return (
            f"Secret {secret!r} has no key {key!r}: write it to {path} "
            f"({where}: one directory per Secret, one file per key)"
        )

    return without_library_words(_MISSING_KEY.sub(missing, message))
