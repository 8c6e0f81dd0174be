"""WebDAV multistatus bodies (RFC 4918 §13), read as they arrive.

:class:`MultistatusReader` is fed the body chunk by chunk and hands on each DAV:response as
soon as its end tag is read, so a body of any length costs one response of memory: an
address book listed whole with its cards in one report is never held whole. It builds no
element tree, only the few values a response carries.

A body with a DTD is refused whatever its encoding: a WebDAV body never needs one, and it
is how entity-expansion tricks arrive from a hostile server.
"""

from __future__ import annotations

import xml.parsers.expat as expat
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import unquote, urlsplit

DAV = "DAV:"
CARDDAV = "urn:ietf:params:xml:ns:carddav"

_SEPARATOR = " "  # between an element's namespace and its local name, as expat reports it


def _name(namespace: str, local: str) -> str:
    return f"{namespace}{_SEPARATOR}{local}"


_MULTISTATUS = _name(DAV, "multistatus")
_RESPONSE = _name(DAV, "response")
_HREF = _name(DAV, "href")
_STATUS = _name(DAV, "status")
_PROPSTAT = _name(DAV, "propstat")
_PROP = _name(DAV, "prop")
_GETETAG = _name(DAV, "getetag")
_ADDRESS_DATA = _name(CARDDAV, "address-data")
_SYNC_TOKEN = _name(DAV, "sync-token")

# Where each value is read from: the path of element names below the multistatus.
_RESPONSE_HREF = (_RESPONSE, _HREF)
_RESPONSE_STATUS = (_RESPONSE, _STATUS)
_PROPSTAT_STATUS = (_RESPONSE, _PROPSTAT, _STATUS)
_ETAG = (_RESPONSE, _PROPSTAT, _PROP, _GETETAG)
_DATA = (_RESPONSE, _PROPSTAT, _PROP, _ADDRESS_DATA)
_TOKEN = (_SYNC_TOKEN,)
_WANTED = frozenset({_RESPONSE_HREF, _RESPONSE_STATUS, _PROPSTAT_STATUS, _ETAG, _DATA, _TOKEN})


class InvalidDavResponse(ValueError):
    """A body that is not the XML WebDAV promises."""


@dataclass(frozen=True)
class DavResponse:
    """One <response> of a multistatus: an href and what came back for it."""

    href: str  # the decoded path, e.g. /dav/book/a b.vcf
    status: int | None  # the response-level status (404 for a removed member), if any
    etag: str | None = None
    address_data: str | None = None


@dataclass(frozen=True)
class Multistatus:
    responses: list[DavResponse]
    sync_token: str | None


@dataclass
class _Propstat:
    status: int | None = None
    etag: str | None = None
    data: str | None = None


@dataclass
class _Response:
    """What one response has said so far. Only the first href and status count, and only
    a propstat whose status is 200 gives values (a later one wins)."""

    href: str | None = None
    status: int | None = None
    etag: str | None = None
    data: str | None = None
    propstat: _Propstat = field(default_factory=_Propstat)


class MultistatusReader:
    """Feed bytes with :meth:`feed`, then :meth:`close`; each returns the responses it
    completed. ``sync_token`` is set once the body's DAV:sync-token is read."""

    def __init__(self) -> None:
        parser = expat.ParserCreate(namespace_separator=_SEPARATOR)
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        self._parser = parser
        self._path: list[str] = []  # element names below the root
        self._rooted = False
        self._collecting: list[str] | None = None  # text of a wanted element, in pieces
        self._response: _Response | None = None
        self._done: list[DavResponse] = []
        self.sync_token: str | None = None

    def feed(self, data: bytes) -> list[DavResponse]:
        self._parse(data, final=False)
        return self._take()

    def close(self) -> list[DavResponse]:
        self._parse(b"", final=True)
        if not self._rooted:
            raise InvalidDavResponse("expected a DAV:multistatus")
        return self._take()

    def _take(self) -> list[DavResponse]:
        done, self._done = self._done, []
        return done

    def _parse(self, data: bytes, *, final: bool) -> None:
        try:
            self._parser.Parse(data, final)
        except InvalidDavResponse:  # a handler's refusal (a ValueError too)
            raise
        except ValueError:  # expat reads no multi-byte encoding but UTF-8 and UTF-16
            raise InvalidDavResponse("XML in an encoding the parser does not read") from None
        except expat.ExpatError as exc:
            if exc.code == expat.errors.codes[expat.errors.XML_ERROR_UNKNOWN_ENCODING]:
                raise InvalidDavResponse("XML in an encoding the parser does not read") from None
            raise InvalidDavResponse(f"not well-formed XML ({exc.code})") from None

    def _refuse_dtd(self, *_: object) -> NoReturn:
        raise InvalidDavResponse("XML with a DTD")

    def _start(self, name: str, _attributes: dict[str, str]) -> None:
        if not self._rooted:
            if name != _MULTISTATUS:
                raise InvalidDavResponse("expected a DAV:multistatus")
            self._rooted = True
            self._path.append("")  # the root itself, left off the paths
            return
        self._path.append(name)
        path = tuple(self._path[1:])
        if path == (_RESPONSE,):
            self._response = _Response()
        elif path == (_RESPONSE, _PROPSTAT) and self._response is not None:
            self._response.propstat = _Propstat()
        self._collecting = [] if path in _WANTED else None

    def _text(self, data: str) -> None:
        if self._collecting is not None:
            self._collecting.append(data)

    def _end(self, _name: str) -> None:
        path = tuple(self._path[1:])
        self._path.pop()
        text, self._collecting = self._collecting, None
        value = "".join(text) if text is not None else None
        response = self._response
        if path == _TOKEN:
            self.sync_token = value
        elif response is None:
            return
        elif path == _RESPONSE_HREF and response.href is None:
            response.href = value
        elif path == _RESPONSE_STATUS and response.status is None:
            response.status = _status_code(value)
        elif path == _PROPSTAT_STATUS:
            response.propstat.status = _status_code(value)
        elif path == _ETAG:
            response.propstat.etag = value or None
        elif path == _DATA:
            response.propstat.data = value or None
        elif path == (_RESPONSE, _PROPSTAT):
            found = response.propstat
            if found.status == 200:
                response.etag = found.etag or response.etag
                response.data = found.data or response.data
        elif path == (_RESPONSE,):
            self._response = None
            if not response.href:
                raise InvalidDavResponse("a DAV:response without DAV:href")
            self._done.append(
                DavResponse(href_path(response.href), response.status, response.etag, response.data)
            )


def parse_multistatus(content: bytes) -> Multistatus:
    """A whole multistatus body at once."""
    reader = MultistatusReader()
    responses = reader.feed(content)
    responses += reader.close()
    return Multistatus(responses, reader.sync_token)


def _status_code(text: str | None) -> int | None:
    parts = (text or "").split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


def href_path(href: str) -> str:
    """The decoded path of an href, so a server's and our own spelling compare equal."""
    return unquote(urlsplit(href).path)
