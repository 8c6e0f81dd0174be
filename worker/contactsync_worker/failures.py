"""Errors as Temporal failures: how an activity hands any error to its workflow."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from contactsync_api.errors import ContactSyncError, classify


def application_error(error: Exception) -> ApplicationError:
    """``error`` as the failure workflows and the operator read: its ErrorType as ``type``,
    non-retryable when ERRORS says a retry cannot help. Raise it ``from error``, so the
    cause chain keeps the original for whoever debugs it.

    An error outside the vocabulary becomes a retryable UnexpectedError; its message starts
    with the error's class, which the type no longer names.
    """
    kind = classify(error)
    message = (
        str(error) if isinstance(error, ContactSyncError) else f"{type(error).__name__}: {error}"
    )
    return ApplicationError(message, type=kind.type.value, non_retryable=not kind.retryable)
