"""WebDAV/CardDAV plumbing shared by the CardDAV source and destination.

Request bodies (RFC 6578 sync-collection, RFC 6352 multiget and query), a multistatus
reader, href handling, and one HTTP session that turns every transport failure and
unexpected status into its side's error (``contactsync_worker.endpoint_failures``: a server
not reached, credentials refused, a collection not found, or unavailable), keeping the cause.
Messages carry the host and the status, never a URL path, credentials or card content.

The login is read from the mounted Secret for every request, so a rotated password is used
by the next request of the running worker.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import NoReturn
from urllib.parse import quote, urljoin, urlsplit

import defusedxml.ElementTree as defused
import httpx
from defusedxml import DefusedXmlException

from contactsync_api.endpoints.carddav import CardDavSpec
from contactsync_api.errors import EndpointErrors
from contactsync_worker import credentials, endpoint_failures, transport
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.credentials import CredentialsError, UsernamePassword
from contactsync_worker.multistatus import (
    CARDDAV,
    DAV,
    InvalidDavResponse,
    Multistatus,
    href_path,
    parse_multistatus,
)

XML_HEADERS = {"Content-Type": "application/xml; charset=utf-8"}
VCARD_CONTENT_TYPE = "text/vcard; charset=utf-8"

# Takes a response body piece by piece; raises InvalidDavResponse if it is not what it reads.
BodySink = Callable[[bytes], None]
ClientSource = httpx.AsyncClient | Callable[[], httpx.AsyncClient]
Login = tuple[str, str]  # username, password of HTTP Basic authentication
# A fixed login, or how to read it (from the mounted Secret) for each request.
Credentials = Login | Callable[[], UsernamePassword]


def _tag(namespace: str, name: str) -> str:
    return f"{{{namespace}}}{name}"


def _element(parent: ET.Element | None, namespace: str, name: str) -> ET.Element:
    tag = _tag(namespace, name)
    return ET.Element(tag) if parent is None else ET.SubElement(parent, tag)


def _serialize(root: ET.Element) -> bytes:
    ET.register_namespace("D", DAV)
    ET.register_namespace("C", CARDDAV)
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def sync_collection_body(token: str, *, with_cards: bool = False) -> bytes:
    """RFC 6578 §3.2: changes since ``token`` (empty: every member), one level deep; with
    each changed member's card when ``with_cards`` (a server that does not return them
    leaves them to a multiget)."""
    root = _element(None, DAV, "sync-collection")
    _element(root, DAV, "sync-token").text = token or None
    _element(root, DAV, "sync-level").text = "1"
    prop = _element(root, DAV, "prop")
    _element(prop, DAV, "getetag")
    if with_cards:
        _element(prop, CARDDAV, "address-data")
    return _serialize(root)


def multiget_body(hrefs: Iterable[str]) -> bytes:
    """RFC 6352 §8.7: the etag and card of each href (decoded paths)."""
    root = _element(None, CARDDAV, "addressbook-multiget")
    prop = _element(root, DAV, "prop")
    _element(prop, DAV, "getetag")
    _element(prop, CARDDAV, "address-data")
    for href in hrefs:
        _element(root, DAV, "href").text = quote_path(href)
    return _serialize(root)


def query_defined_body(property_name: str) -> bytes:
    """RFC 6352 §8.6: members whose card has ``property_name``, returning only that property
    where the server supports partial retrieval (others send whole cards)."""
    root = _element(None, CARDDAV, "addressbook-query")
    prop = _element(root, DAV, "prop")
    _element(prop, DAV, "getetag")
    _element(_element(prop, CARDDAV, "address-data"), CARDDAV, "prop").set("name", property_name)
    _element(_element(root, CARDDAV, "filter"), CARDDAV, "prop-filter").set("name", property_name)
    return _serialize(root)


def _parse_xml(content: bytes) -> ET.Element:
    # A WebDAV body never needs a DTD; refusing one shuts out entity-expansion tricks from
    # a hostile server. defusedxml refuses it in the parser, whatever the body's encoding
    # (a byte search for "<!DOCTYPE" misses UTF-16).
    try:
        root: ET.Element = defused.fromstring(content, forbid_dtd=True)
        return root
    except DefusedXmlException:
        raise InvalidDavResponse("XML with a DTD") from None
    except ValueError:  # expat reads no multi-byte encoding but UTF-8 and UTF-16
        raise InvalidDavResponse("XML in an encoding the parser does not read") from None
    except ET.ParseError as exc:
        raise InvalidDavResponse(f"not well-formed XML ({exc.code})") from None


def error_conditions(content: bytes) -> frozenset[str]:
    """The pre/postcondition names of a DAV:error body, e.g. {"valid-sync-token"}."""
    try:
        root = _parse_xml(content)
    except InvalidDavResponse:
        return frozenset()
    if root.tag != _tag(DAV, "error"):
        return frozenset()
    return frozenset(child.tag.rpartition("}")[2] for child in root)


def quote_path(path: str) -> str:
    return quote(path, safe="/@:!$&'()*+,;=~")


def collection_url(url: str) -> str:
    """The collection URL without user info, ending in a slash."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return parts._replace(netloc=netloc, path=path, query="", fragment="").geturl()


def dav_access(
    spec: CardDavSpec, context: AdapterContext
) -> tuple[Credentials | None, ClientSource]:
    """How to read the login, and the client factory, of an address book as its spec and
    Secrets say."""
    login: Credentials | None = None
    if spec.credentials_secret_ref is not None:
        login = partial(
            credentials.username_password,
            spec.credentials_secret_ref.name,
            secrets_dir=context.secrets_dir,
        )
    bundle = credentials.ca_bundle_for(spec.ca_bundle_secret_ref, secrets_dir=context.secrets_dir)

    def client() -> httpx.AsyncClient:
        return transport.http_client(
            spec.url, allow_insecure=spec.allow_insecure, ca_bundle=bundle, egress=context.egress
        )

    return login, client


# A bound on one response body, decoded: a whole address book in one REPORT fits many times
# over (10,000 cards of nine properties are ~5 MiB), a server that never stops does not.
MAX_RESPONSE_BYTES = 256 * 2**20


class DavSession:
    """HTTP to one collection; every failure becomes an error of ``errors``, its side's."""

    def __init__(
        self,
        url: str,
        client: ClientSource,
        credentials: Credentials | None,
        errors: EndpointErrors,
        label: str,
        max_response_bytes: int | None = None,
    ) -> None:
        self.url = collection_url(url)
        self._max_bytes = max_response_bytes or MAX_RESPONSE_BYTES
        self.path = href_path(self.url)
        # A client passed in belongs to the caller; one we make from a factory is ours to close.
        self._factory = None if isinstance(client, httpx.AsyncClient) else client
        self._client = client if isinstance(client, httpx.AsyncClient) else None
        self._auth = _basic_auth(credentials)
        self._errors = errors
        self.label = f"{label} at {urlsplit(self.url).netloc}"

    def member_url(self, path: str) -> str:
        return urljoin(self.url, quote_path(path))

    async def request(
        self,
        method: str,
        path: str | None = None,
        *,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        sink: BodySink | None = None,
        max_bytes: int | None = None,
    ) -> httpx.Response:
        """Send; a transport failure raises ``unavailable`` (the status is the caller's).

        With a ``sink``, the body of a 207 Multi-Status is handed to it chunk by chunk as it
        arrives instead of being held (the response returned has none); any other body is
        held as usual, for the caller to read the error. ``max_bytes`` bounds this body
        instead of the session's bound.
        """
        url = self.member_url(path) if path else self.url
        limit = max_bytes or self._max_bytes
        try:
            async with self._http().stream(
                method, url, content=body, headers=dict(headers or {}), auth=self._auth
            ) as response:
                streaming = sink is not None and response.status_code == 207
                content = bytearray()
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise self._errors.unavailable(
                            f"{self.label}: {method} response is larger than "
                            f"{limit // 2**20} MiB; refused, as from a server that "
                            "would never stop sending"
                        )
                    if streaming:
                        assert sink is not None
                        sink(chunk)
                    else:
                        content += chunk
        except httpx.HTTPError as exc:
            failure = endpoint_failures.http_transport(self._errors, exc)
            raise failure(
                f"{self.label}: {method} request failed ({type(exc).__name__}: {exc})"
            ) from exc
        except CredentialsError as exc:  # read for this request: say whose they are
            raise CredentialsError(f"{self.label}: {exc}") from exc
        except InvalidDavResponse as exc:  # from the sink, reading the body as it came
            raise self._errors.unavailable(f"{self.label}: invalid response: {exc}") from exc
        # The body is read (and decoded) already: hand it on without its transfer encodings.
        kept = [
            (name, value)
            for name, value in response.headers.multi_items()
            if name.lower() not in {"content-encoding", "content-length", "transfer-encoding"}
        ]
        return httpx.Response(
            response.status_code, headers=kept, content=bytes(content), request=response.request
        )

    async def report(self, body: bytes, depth: str) -> Multistatus:
        response = await self.request("REPORT", body=body, headers={**XML_HEADERS, "Depth": depth})
        if response.status_code != 207:
            self.fail(response, "REPORT")
        return self.multistatus(response)

    def multistatus(self, response: httpx.Response) -> Multistatus:
        try:
            return parse_multistatus(response.content)
        except InvalidDavResponse as exc:
            raise self._errors.unavailable(f"{self.label}: invalid response: {exc}") from exc

    def fail(self, response: httpx.Response, what: str) -> NoReturn:
        status = response.status_code
        reason = {
            401: "authentication failed",
            403: "access denied",
            404: "collection not found",
        }.get(status, "server error" if status >= 500 else "unexpected response")
        failure = endpoint_failures.http_status(self._errors, status)
        raise failure(f"{self.label}: {what}: {reason} (HTTP {status})")

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            assert self._factory is not None
            self._client = self._factory()
        return self._client

    async def aclose(self) -> None:
        if self._factory is not None and self._client is not None:
            await self._client.aclose()
            self._client = None


def _basic_auth(credentials: Credentials | None) -> httpx.Auth | None:
    if credentials is None:
        return None
    if callable(credentials):
        return transport.BasicAuthFromSecret(credentials)
    return httpx.BasicAuth(*credentials)
