"""What a server's answer, or its silence, is in the error vocabulary, for either side.

Adapters ask here where they catch a library's error or read a status, and raise the class
they get ``from`` the cause. A server nobody reaches is retried; one that refuses the
credentials or does not have what the spec names is not (a retry would send the same request;
the next scheduled run tries again); anything else is "unavailable" and retried.
"""

from __future__ import annotations

import re

import httpx

from contactsync_api.errors import ContactSyncError, EndpointErrors

_REFUSED = frozenset({401, 403})
_NOT_FOUND = frozenset({404, 410})

# libpq reports no SQLSTATE for a connection the server refused, only the server's words.
# They are English unless the server speaks another language; then the failure stays
# "unavailable" and is retried, as any failure it cannot tell apart.
_PG_SERVER_SAID = "FATAL:"
_PG_REFUSED = re.compile(
    r"authentication failed|no pg_hba\.conf entry|permission denied for database"
    r'|role ".*" does not exist|role ".*" is not permitted to log in'
)
_PG_NOT_FOUND = re.compile(r'database ".*" does not exist')


def http_status(errors: EndpointErrors, status: int) -> type[ContactSyncError]:
    """The class for an HTTP status the request did not expect."""
    if status in _REFUSED:
        return errors.authentication_refused
    if status in _NOT_FOUND:
        return errors.not_found
    return errors.unavailable


def http_transport(errors: EndpointErrors, error: httpx.HTTPError) -> type[ContactSyncError]:
    """The class for a request that got no answer. httpx reports a name that does not
    resolve, a refused connection and a failed TLS handshake alike, as ConnectError."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return errors.unreachable
    return errors.unavailable


def postgres_connect(errors: EndpointErrors, message: str) -> tuple[type[ContactSyncError], str]:
    """The class for a PostgreSQL connection that failed with ``message`` (psycopg's
    OperationalError as text), and what happened in words that name nothing of the server
    (its message names hosts and roles): no word from the server means it was not reached."""
    if _PG_SERVER_SAID not in message:
        return errors.unreachable, "the server was not reached"
    if _PG_NOT_FOUND.search(message):
        return errors.not_found, "the database does not exist"
    if _PG_REFUSED.search(message):
        return errors.authentication_refused, "the server refused the login"
    return errors.unavailable, "the server refused the connection"
