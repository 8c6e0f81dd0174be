"""The error vocabulary: what a failure is called when it crosses the Temporal boundary, and
whether retrying it can help.

Adapters translate the errors of the systems they talk to into these classes where they
catch them, keeping the cause. Activities hand them to Temporal with their ErrorType as the
failure's ``type``; workflows and the operator read that type, never the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class ErrorType(StrEnum):
    """The names failures carry. Recorded histories and users' searches hold these strings,
    so a value never changes."""

    CONFIGURATION = "ConfigurationError"
    CURSOR_EXPIRED = "CursorExpired"
    MASS_DELETE_BLOCKED = "MassDeleteBlocked"
    SOURCE_UNAVAILABLE = "SourceUnavailable"
    SOURCE_UNREACHABLE = "SourceUnreachable"
    SOURCE_AUTHENTICATION_REFUSED = "SourceAuthenticationRefused"
    SOURCE_NOT_FOUND = "SourceNotFound"
    DESTINATION_UNAVAILABLE = "DestinationUnavailable"
    DESTINATION_UNREACHABLE = "DestinationUnreachable"
    DESTINATION_AUTHENTICATION_REFUSED = "DestinationAuthenticationRefused"
    DESTINATION_NOT_FOUND = "DestinationNotFound"
    STORE_UNAVAILABLE = "StoreUnavailable"
    UNAUTHORIZED = "Unauthorized"
    # Outside the vocabulary: an error no adapter translated (a bug, a library's own error),
    # or a name this version does not know. Retried, as such errors always were.
    UNEXPECTED = "UnexpectedError"

    @classmethod
    def parse(cls, name: str | None) -> ErrorType:
        """The type a failure names; UNEXPECTED for none or one outside the vocabulary."""
        try:
            return cls(name or "")
        except ValueError:
            return cls.UNEXPECTED


class ContactSyncError(Exception):
    """An error of the vocabulary. Raise a subclass: ERRORS gives each its type."""

    @property
    def error_type(self) -> ErrorType:
        return classify(self).type

    @property
    def retryable(self) -> bool:
        return classify(self).retryable


class ConfigurationError(ContactSyncError, ValueError):
    """The region's configuration names something the worker cannot use: a missing Secret,
    a clear-text URL, an address the egress policy does not allow."""


class SourceUnavailable(ContactSyncError, RuntimeError):
    """The source cannot be read now (a server error, an answer that cannot be used). Retry
    later; never a reason to delete anything downstream.

    Every other way a source fails to be read is a subclass, so whoever catches this one
    (to keep deletions safe) catches them all.
    """


class SourceUnreachable(SourceUnavailable):
    """No connection to the source: its name does not resolve, nobody answers on the port,
    or the TLS handshake fails. Retry later."""


class SourceAuthenticationRefused(SourceUnavailable):
    """The source refused the credentials, or what they may read (HTTP 401 or 403, LDAP
    invalidCredentials or insufficientAccessRights). A retry sends the same credentials:
    fix the Secret or the account."""


class SourceNotFound(SourceUnavailable):
    """What the spec names is not there: an address book or file answering HTTP 404, a
    missing local file, an LDAP base DN that does not exist."""


class CursorExpired(SourceUnavailable):
    """The cursor belongs to a state of the source that is gone (the file changed, the LDAP
    paging session ended): start the run again with ``cursor=None`` and discard what it saw.

    A SourceUnavailable, so a caller that does not know it still deletes nothing.
    """


class DestinationUnavailable(ContactSyncError, RuntimeError):
    """The destination cannot be written now (a server error, a conflict). Retry later.

    Every other way a destination fails to be written is a subclass."""


class DestinationUnreachable(DestinationUnavailable):
    """No connection to the destination (name, port, TLS handshake). Retry later."""


class DestinationAuthenticationRefused(DestinationUnavailable):
    """The destination refused the credentials, or what they may write (HTTP 401 or 403,
    a PostgreSQL login or privilege refused). Fix the Secret or the account."""


class DestinationNotFound(DestinationUnavailable):
    """What the spec names is not there: an address book answering HTTP 404, a PostgreSQL
    database that does not exist."""


class StoreUnavailable(ContactSyncError, RuntimeError):
    """The state store cannot be reached or is busy now. Retry later."""


class MassDeleteBlocked(ContactSyncError, RuntimeError):
    """A run would delete more of a destination than deletes.maxDeletePercent allows."""


class Unauthorized(ContactSyncError, PermissionError):
    """A destructive request without a valid signature; the message says what is wrong."""


@dataclass(frozen=True)
class Classification:
    """A row of ERRORS: an error's name across the Temporal boundary, and whether a retry
    can help."""

    type: ErrorType
    retryable: bool


# The one table. A subclass an adapter defines (EgressRefused, DestinationConflict, ...)
# falls under the row of its nearest class here.
ERRORS: Mapping[type[ContactSyncError], Classification] = MappingProxyType(
    {
        ConfigurationError: Classification(ErrorType.CONFIGURATION, retryable=False),
        CursorExpired: Classification(ErrorType.CURSOR_EXPIRED, retryable=False),
        MassDeleteBlocked: Classification(ErrorType.MASS_DELETE_BLOCKED, retryable=False),
        Unauthorized: Classification(ErrorType.UNAUTHORIZED, retryable=False),
        SourceUnavailable: Classification(ErrorType.SOURCE_UNAVAILABLE, retryable=True),
        SourceUnreachable: Classification(ErrorType.SOURCE_UNREACHABLE, retryable=True),
        SourceAuthenticationRefused: Classification(
            ErrorType.SOURCE_AUTHENTICATION_REFUSED, retryable=False
        ),
        SourceNotFound: Classification(ErrorType.SOURCE_NOT_FOUND, retryable=False),
        DestinationUnavailable: Classification(ErrorType.DESTINATION_UNAVAILABLE, retryable=True),
        DestinationUnreachable: Classification(ErrorType.DESTINATION_UNREACHABLE, retryable=True),
        DestinationAuthenticationRefused: Classification(
            ErrorType.DESTINATION_AUTHENTICATION_REFUSED, retryable=False
        ),
        DestinationNotFound: Classification(ErrorType.DESTINATION_NOT_FOUND, retryable=False),
        StoreUnavailable: Classification(ErrorType.STORE_UNAVAILABLE, retryable=True),
    }
)
UNEXPECTED = Classification(ErrorType.UNEXPECTED, retryable=True)

# What retry policies never retry, whoever raised it.
NON_RETRYABLE: tuple[ErrorType, ...] = tuple(c.type for c in ERRORS.values() if not c.retryable)


def classify(error: BaseException) -> Classification:
    """The row of the nearest class of ``error`` in ERRORS; UNEXPECTED when none is."""
    for cls in type(error).__mro__:
        if issubclass(cls, ContactSyncError) and cls in ERRORS:
            return ERRORS[cls]
    return UNEXPECTED


@dataclass(frozen=True)
class EndpointErrors:
    """The errors of one side, sources or destinations, by what went wrong. Code that serves
    both sides (WebDAV, the HTTP and PostgreSQL failure readers) raises through it, so a
    refused login is a SourceAuthenticationRefused on one side and a
    DestinationAuthenticationRefused on the other."""

    unavailable: type[ContactSyncError]
    unreachable: type[ContactSyncError]
    authentication_refused: type[ContactSyncError]
    not_found: type[ContactSyncError]

    @property
    def types(self) -> frozenset[ErrorType]:
        """The ErrorTypes of this side, as ERRORS names them."""
        classes = (self.unavailable, self.unreachable, self.authentication_refused, self.not_found)
        return frozenset(ERRORS[cls].type for cls in classes)


SOURCE_ERRORS = EndpointErrors(
    SourceUnavailable, SourceUnreachable, SourceAuthenticationRefused, SourceNotFound
)
DESTINATION_ERRORS = EndpointErrors(
    DestinationUnavailable,
    DestinationUnreachable,
    DestinationAuthenticationRefused,
    DestinationNotFound,
)
