"""What a server's answer or silence is called, for either side: the table adapters consult
where they translate an HTTP status, a failed request or a refused PostgreSQL connection."""

from __future__ import annotations

import httpx
import pytest

from contactsync_api.errors import (
    DESTINATION_ERRORS,
    SOURCE_ERRORS,
    DestinationAuthenticationRefused,
    DestinationNotFound,
    DestinationUnavailable,
    DestinationUnreachable,
    SourceAuthenticationRefused,
    SourceNotFound,
    SourceUnavailable,
    SourceUnreachable,
)
from contactsync_worker.endpoint_failures import http_status, http_transport, postgres_connect


@pytest.mark.parametrize(
    ("status", "source", "destination"),
    [
        (401, SourceAuthenticationRefused, DestinationAuthenticationRefused),
        (403, SourceAuthenticationRefused, DestinationAuthenticationRefused),
        (404, SourceNotFound, DestinationNotFound),
        (410, SourceNotFound, DestinationNotFound),
        (409, SourceUnavailable, DestinationUnavailable),
        (500, SourceUnavailable, DestinationUnavailable),
        (503, SourceUnavailable, DestinationUnavailable),
    ],
)
def test_an_http_status_is_named_for_its_side(
    status: int, source: type[Exception], destination: type[Exception]
) -> None:
    assert http_status(SOURCE_ERRORS, status) is source
    assert http_status(DESTINATION_ERRORS, status) is destination


REQUEST = httpx.Request("GET", "https://dav.example/book/")


@pytest.mark.parametrize(
    ("error", "named"),
    [
        # httpx's words for a name that does not resolve, a refused port, a failed handshake.
        (httpx.ConnectError("[Errno -2] Name or service not known"), SourceUnreachable),
        (httpx.ConnectError("[Errno 111] Connection refused"), SourceUnreachable),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]"), SourceUnreachable),
        (httpx.ConnectTimeout("timed out"), SourceUnreachable),
        # Reached, then the answer failed: a server's trouble, retried as unavailable.
        (httpx.ReadTimeout("timed out"), SourceUnavailable),
        (httpx.RemoteProtocolError("peer closed connection"), SourceUnavailable),
    ],
    ids=lambda v: str(v) if isinstance(v, Exception) else None,
)
def test_a_request_without_an_answer_is_unreachable_only_when_no_connection_was_made(
    error: httpx.HTTPError, named: type[Exception]
) -> None:
    error.request = REQUEST
    assert http_transport(SOURCE_ERRORS, error) is named


# psycopg's OperationalError text, as libpq and the server word it.
AT = 'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
REFUSED, MISSING = DestinationAuthenticationRefused, DestinationNotFound
UNREACHABLE, UNAVAILABLE = DestinationUnreachable, DestinationUnavailable


@pytest.mark.parametrize(
    ("message", "named"),
    [
        (AT + 'FATAL:  password authentication failed for user "app"', REFUSED),
        (AT + 'FATAL:  no pg_hba.conf entry for host "10.0.0.7", user "app"', REFUSED),
        (AT + 'FATAL:  role "app" does not exist', REFUSED),
        (AT + 'FATAL:  permission denied for database "contacts"', REFUSED),
        (AT + 'FATAL:  database "contacts" does not exist', MISSING),
        (AT + "Connection refused\n\tIs the server running on that host?", UNREACHABLE),
        ("failed to resolve host 'db.invalid': [Errno -2] Name or service not known", UNREACHABLE),
        (AT + "server does not support SSL, but SSL was required", UNREACHABLE),
        (AT + "FATAL:  sorry, too many clients already", UNAVAILABLE),
        (AT + "FATAL:  the database system is starting up", UNAVAILABLE),
        # Another language: what the words cannot tell stays unavailable, and is retried.
        (AT + "FATAL:  Passwort-Authentifizierung für Benutzer »app« fehlgeschlagen", UNAVAILABLE),
    ],
)
def test_a_refused_postgres_connection_is_named_by_the_servers_words(
    message: str, named: type[Exception]
) -> None:
    failure, words = postgres_connect(DESTINATION_ERRORS, message)
    assert failure is named
    assert "app" not in words, "the words name nothing of the server's message"
    assert "127.0.0.1" not in words
