"""Errors as Temporal failures: how an activity hands any error to its workflow, and the one
log line that says so."""

from __future__ import annotations

import logging

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from contactsync_api.errors import ContactSyncError, classify

log = logging.getLogger(__name__)


def application_error(error: Exception) -> ApplicationError:
    """``error`` as the failure workflows and the operator read: its ErrorType as ``type``,
    non-retryable when ERRORS says a retry cannot help. Raise it ``from error``, so the
    cause chain keeps the original for whoever debugs it.

    An error of the vocabulary is an outcome the worker expects (a guard that held, a source
    that refused): benign to Temporal, whose SDK then logs it at DEBUG instead of as a
    warning with a traceback. An error outside the vocabulary becomes a retryable
    UnexpectedError; its message starts with the error's class, which the type no longer
    names.
    """
    kind = classify(error)
    if isinstance(error, ContactSyncError):
        message, category = str(error), ApplicationErrorCategory.BENIGN
    else:
        message, category = f"{type(error).__name__}: {error}", ApplicationErrorCategory.UNSPECIFIED
    return ApplicationError(
        message, type=kind.type.value, non_retryable=not kind.retryable, category=category
    )


def reported(error: Exception, doing: str) -> ApplicationError:
    """:func:`application_error`, logged once by the worker: an expected outcome as one line
    naming its type, without a traceback; anything else as the crash it is, with its
    traceback. ``doing`` says what failed ("page of source hr")."""
    failure = application_error(error)
    if isinstance(error, ContactSyncError):
        log.warning(
            "%s failed with %s: %s",
            doing,
            failure.type,
            failure.message,
            extra={"error_type": failure.type},
        )
    else:
        # The type only: an unexpected error's message may quote anything it was given.
        log.error("%s failed unexpectedly (%s)", doing, type(error).__name__, exc_info=error)
    return failure
