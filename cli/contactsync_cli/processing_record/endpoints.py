"""What the record says of one source or destination: where it is and how it is reached.

Only what the manifest states, and of that never a credential: a URL loses its user
information, query and fragment (a signed download link carries its token there), and a
Secret is named, never read.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from contactsync_api.endpoints import EndpointSpec
from contactsync_api.endpoints.carddav import CardDavSpec
from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.endpoints.postgres import PostgresConnectionSpec, PostgresDestinationSpec
from contactsync_api.values import SecretKeyRef

_VERIFIED = "TLS 1.2 or later, the server's certificate verified against"


def public_url(url: str) -> str:
    """``url`` with nothing but scheme, host, port and path."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, host_of(url) or "", parts.path, "", ""))


def host_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def _trust(ca_bundle: SecretKeyRef | None) -> str:
    if ca_bundle is None:
        return "the image's system CAs"
    return f"the CA bundle in Secret {ca_bundle.name} (key {ca_bundle.key})"


def host(endpoint: EndpointSpec) -> str | None:
    """host[:port] the workers dial; None for a file on a volume or a database whose
    connection string only its Secret holds."""
    url = getattr(endpoint, "url", None)
    return host_of(url) if isinstance(url, str) else None


def location(endpoint: EndpointSpec) -> str:
    """What the endpoint reads or writes, in words a reader can find it by."""
    if isinstance(endpoint, LdapSourceSpec):
        return f"{public_url(endpoint.url)} base DN {endpoint.base_dn}"
    if isinstance(endpoint, FileSourceSpec):
        if endpoint.path is not None:
            return f"file {endpoint.path} on a volume of the worker pod"
        return public_url(endpoint.url or "")
    if isinstance(endpoint, PostgresDestinationSpec):
        ref = endpoint.dsn_secret_ref
        return (
            f"table {endpoint.schema_name}.{endpoint.table} of the database named by the "
            f"connection string in Secret {ref.name} (key {ref.key})"
        )
    if isinstance(endpoint, PostgresConnectionSpec):
        ref = endpoint.dsn_secret_ref
        return f"the database named by the connection string in Secret {ref.name} (key {ref.key})"
    url = getattr(endpoint, "url", None)
    return public_url(url) if isinstance(url, str) else "not stated"


def transport(endpoint: EndpointSpec) -> str:
    """How contacts travel to or from the endpoint, as the worker connects."""
    if isinstance(endpoint, PostgresConnectionSpec):
        if endpoint.allow_insecure:
            return (
                "the connection string as given (allowInsecure): TLS only if it asks for it, "
                "the server not necessarily verified"
            )
        return (
            f"TLS with sslmode=verify-full (certificate and host name verified against "
            f"{_trust(endpoint.ca_bundle_secret_ref)})"
        )
    if isinstance(endpoint, LdapSourceSpec):
        trust = _trust(endpoint.ca_bundle_secret_ref)
        if endpoint.url.startswith("ldaps://"):
            return f"LDAPS: {_VERIFIED} {trust}"
        if endpoint.start_tls:
            return f"StartTLS: {_VERIFIED} {trust}"
        return "clear-text LDAP: contacts and the bind password unencrypted"
    if isinstance(endpoint, FileSourceSpec) and endpoint.path is not None:
        return "no network: read from a volume mounted into the worker pod"
    if isinstance(endpoint, CardDavSpec | FileSourceSpec):
        url = endpoint.url or ""
        if url.startswith("https://"):
            return f"HTTPS: {_VERIFIED} {_trust(endpoint.ca_bundle_secret_ref)}"
        return "clear-text HTTP: contacts and credentials unencrypted"
    return "not stated"


def encrypted_in_transit(endpoint: EndpointSpec) -> bool | None:
    """Whether the worker always encrypts the connection; None: there is none."""
    if isinstance(endpoint, PostgresConnectionSpec):
        return not endpoint.allow_insecure
    if isinstance(endpoint, LdapSourceSpec):
        return endpoint.url.startswith("ldaps://") or endpoint.start_tls
    if isinstance(endpoint, FileSourceSpec) and endpoint.path is not None:
        return None
    url = getattr(endpoint, "url", None)
    return isinstance(url, str) and url.startswith("https://")


def allows_insecure(endpoint: EndpointSpec) -> bool:
    return bool(getattr(endpoint, "allow_insecure", False))


def secret_names(endpoint: EndpointSpec) -> list[str]:
    return list(dict.fromkeys(ref.name for ref in endpoint.secret_refs()))
