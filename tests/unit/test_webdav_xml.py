"""WebDAV bodies from a server: a DTD is refused in any encoding, since it is how entity
expansion tricks arrive; ordinary multistatus bodies still parse."""

from __future__ import annotations

import pytest

from contactsync_worker.multistatus import InvalidDavResponse, parse_multistatus

MULTISTATUS = (
    '<?xml version="1.0" encoding="{encoding}"?>{doctype}'
    '<d:multistatus xmlns:d="DAV:"><d:response><d:href>/book/a.vcf</d:href>'
    '<d:propstat><d:prop><d:getetag>"1"</d:getetag></d:prop>'
    "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response></d:multistatus>"
)
DOCTYPE = '<!DOCTYPE d:multistatus [<!ENTITY x "xxxxxxxxxx">]>'


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_dtd_is_refused_whatever_the_encoding(encoding: str) -> None:
    body = MULTISTATUS.format(encoding=encoding, doctype=DOCTYPE).encode(encoding)
    with pytest.raises(InvalidDavResponse, match="DTD"):
        parse_multistatus(body)


@pytest.mark.parametrize("encoding", ["utf-16-be", "utf-32"])
def test_encodings_the_parser_cannot_read_are_refused_not_raised(encoding: str) -> None:
    body = MULTISTATUS.format(encoding=encoding, doctype=DOCTYPE).encode(encoding)
    with pytest.raises(InvalidDavResponse):
        parse_multistatus(body)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_multistatus_without_a_dtd_parses(encoding: str) -> None:
    body = MULTISTATUS.format(encoding=encoding, doctype="").encode(encoding)
    [response] = parse_multistatus(body).responses
    assert response.href == "/book/a.vcf"
