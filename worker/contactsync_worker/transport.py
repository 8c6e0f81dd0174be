"""The one place network clients get their TLS: HTTP clients for file and CardDAV sources,
TLS settings for LDAP, the libpq connection string for PostgreSQL.

Policy (DESIGN §4, encryption in transit):

- TLS is always verified: hostname and chain, TLS 1.2 or newer. A CA bundle from a
  Secret replaces the system trust store rather than adding to it, so a private
  directory's CA cannot vouch for public hosts and vice versa.
- ``http://`` and ``ldap://`` without StartTLS are refused unless the spec says
  ``allowInsecure`` (development only).
- PostgreSQL connections use ``sslmode=verify-full`` whatever libpq's default (``prefer``,
  which sends the password to a server that declines TLS); a DSN that asks for less is
  refused unless the spec says ``allowInsecure``.
- A redirect never downgrades: once a client was made for ``https://`` it sends no
  request over ``http://``, whatever ``allowInsecure`` says; that flag allows a URL the
  user wrote, not one a server chose.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
import ssl
from collections.abc import Callable, Generator
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from contactsync_api.egress import RegionEgress
from contactsync_api.errors import ConfigurationError
from contactsync_worker.credentials import Redacted, UsernamePassword
from contactsync_worker.egress import refusal

if TYPE_CHECKING:
    import ldap3

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_REDIRECTS = 5
_DEFAULT_PORTS = {"https": 443, "http": 80, "ldaps": 636, "ldap": 389}


def _user_agent() -> str:
    try:
        version = metadata.version("contactsync")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"contactsync/{version} (+https://contactsync.dev)"


USER_AGENT = _user_agent()

# httpx logs every request URL at INFO; CardDAV hrefs and file URLs can carry names.
# Quiet it unless someone configured the logger on purpose (level other than NOTSET).
_httpx_logger = logging.getLogger("httpx")
if _httpx_logger.level == logging.NOTSET:
    _httpx_logger.setLevel(logging.WARNING)


class InsecureTransportError(ConfigurationError):
    """A connection would send contacts or credentials in clear text."""


class EgressRefused(InsecureTransportError):
    """A host is, or resolves to, an address the region's egress policy does not allow (or a
    link-local one). A configuration problem: retrying will not help."""


class BearerAuth(httpx.Auth):
    """``Authorization: Bearer <token>``; the token stays wrapped until the header is set."""

    def __init__(self, token: Redacted) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request

    def __repr__(self) -> str:
        return "BearerAuth(token=Redacted)"


class BasicAuthFromSecret(httpx.Auth):
    """HTTP Basic authentication with the login ``read`` for every request, from the mounted
    Secret: a rotated password is sent from the next request on, without a restart. A file
    read costs microseconds; a request, milliseconds."""

    def __init__(self, read: Callable[[], UsernamePassword]) -> None:
        self._read = read

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        login = self._read()
        pair = f"{login.username}:{login.password.reveal()}".encode()
        request.headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        yield request

    def __repr__(self) -> str:
        return "BasicAuthFromSecret(login=Redacted)"


def tls_context(ca_bundle: Path | None) -> ssl.SSLContext:
    """A client context that verifies chain and hostname: system CAs, or only ``ca_bundle``."""
    # create_default_context loads the system store only when no cafile is given.
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def check_http_url(url: str, *, allow_insecure: bool) -> None:
    """Refuse a URL that is not https://, or http:// without ``allow_insecure``."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https":
        return
    if scheme == "http":
        if allow_insecure:
            return
        raise InsecureTransportError(
            "http:// sends contacts and credentials in clear text; use https:// "
            "or set allowInsecure: true (development only)"
        )
    raise InsecureTransportError(f"unsupported URL scheme {scheme!r}: use https://")


def http_client(
    url: str,
    *,
    allow_insecure: bool,
    ca_bundle: Path | None,
    timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    auth: httpx.Auth | None = None,
    egress: RegionEgress | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for ``url``'s server under the transport policy above, connecting only
    where ``egress`` allows (see :func:`check_egress`).

    ``url`` is checked here and decides the redirect rule; the client has no base URL,
    so callers pass absolute URLs. Close it with ``aclose()`` or ``async with``.
    """
    check_http_url(url, allow_insecure=allow_insecure)
    origin_is_secure = urlsplit(url).scheme.lower() == "https"

    checked: set[tuple[str, int]] = set()  # a sync sends a request per card: look up once

    async def refuse_clear_text(request: httpx.Request) -> None:
        # Runs before every request, redirects included, so a Location: http://...
        # is refused before anything (the Authorization header above all) is sent.
        port = request.url.port or _DEFAULT_PORTS.get(request.url.scheme, 443)
        target = (request.url.host, port)
        if target not in checked:
            await check_egress(*target, egress)
            checked.add(target)
        if request.url.scheme == "https":
            return
        if origin_is_secure:
            raise InsecureTransportError(
                "refused a redirect from https:// to http://: it would send the request "
                "in clear text"
            )
        check_http_url(str(request.url.copy_with(query=None)), allow_insecure=allow_insecure)

    return httpx.AsyncClient(
        # An SSLContext, not True: httpx would otherwise trust certifi or SSL_CERT_FILE.
        # The environment still supplies proxies (HTTPS_PROXY, NO_PROXY).
        verify=tls_context(ca_bundle),
        timeout=timeout,
        auth=auth,
        headers={"User-Agent": USER_AGENT},
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        event_hooks={"request": [refuse_clear_text]},
    )


def _refuse(
    host: str, port: int, infos: list[tuple[Any, ...]], egress: RegionEgress | None
) -> None:
    for info in infos:
        why = refusal(host, str(info[4][0]), port, egress)
        if why is not None:
            raise EgressRefused(why)  # the activity that met it logs it, once


async def check_egress(host: str, port: int, egress: RegionEgress | None) -> None:
    """Refuse a host unless every address it resolves to is allowed (contactsync_worker.egress):
    never a link-local one, where cloud instance metadata (169.254.169.254 and the like) answers
    with credentials no sync should reach; with a policy, only what it allows."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # unresolvable: the connection attempt reports it
    _refuse(host, port, infos, egress)


def check_egress_now(host: str, port: int, egress: RegionEgress | None) -> None:
    """:func:`check_egress` for code that connects synchronously (LDAP, in a thread)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return
    _refuse(host, port, infos, egress)


def ldap_port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 636)


async def check_egress_postgres(conninfo: str, egress: RegionEgress | None) -> None:
    """:func:`check_egress` for every host (and hostaddr) of a libpq connection string;
    Unix socket directories are local by nature."""
    from psycopg.conninfo import conninfo_to_dict  # here: only PostgreSQL endpoints need it

    params = conninfo_to_dict(conninfo)
    hosts = str(params.get("hostaddr") or params.get("host") or "").split(",")
    ports = str(params.get("port") or "5432").split(",")
    for index, host in enumerate(h.strip() for h in hosts):
        if host and not host.startswith("/"):
            port = ports[min(index, len(ports) - 1)].strip() or "5432"
            await check_egress(host, int(port), egress)


def ldap_tls(
    url: str, *, start_tls: bool, allow_insecure: bool, ca_bundle: Path | None
) -> ldap3.Tls | None:
    """The ``ldap3.Tls`` for ``url``, or None for clear-text ldap:// that ``allow_insecure``
    permits.

    ldaps:// and ldap:// with StartTLS verify the server: CERT_REQUIRED, the CA bundle
    (or the system store) and ldap3's hostname check, which runs whenever validation
    is required.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("ldap", "ldaps"):
        raise InsecureTransportError(f"unsupported URL scheme {scheme!r}: use ldaps://")
    if scheme == "ldap" and not start_tls:
        if allow_insecure:
            return None
        raise InsecureTransportError(
            "ldap:// sends contacts and credentials in clear text; use ldaps://, "
            "set startTLS: true, or set allowInsecure: true (development only)"
        )
    import ldap3  # here: ~0.1 s of start-up that only LDAP sources need

    return ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=str(ca_bundle) if ca_bundle else None,
        # Without SNI a server hosting several names may present the wrong certificate.
        sni=parts.hostname,
    )


def postgres_conninfo(dsn: str, *, allow_insecure: bool, ca_bundle: Path | None) -> str:
    """The connection string to use for ``dsn``: verified TLS (``sslmode=verify-full``) against
    ``ca_bundle``, else the system CAs. With ``allow_insecure`` the DSN is used as given."""
    if allow_insecure:
        return dsn
    # Here, not at the top: psycopg and its libpq cost a worker without PostgreSQL ~9 MiB.
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:  # its message quotes the string, password included
        raise InsecureTransportError("the PostgreSQL connection string does not parse") from None
    mode = params.get("sslmode")
    if mode not in (None, "verify-full"):
        raise InsecureTransportError(
            f"the PostgreSQL connection string sets sslmode={mode}: connections require "
            "sslmode=verify-full (TLS, the server's certificate and host name verified); "
            "set allowInsecure: true for development only"
        )
    params["sslmode"] = "verify-full"
    if ca_bundle is not None:
        params["sslrootcert"] = str(ca_bundle)
    else:
        # libpq would look for ~/.postgresql/root.crt; "system" is the image's CA store.
        params.setdefault("sslrootcert", "system")
    return make_conninfo("", **params)
