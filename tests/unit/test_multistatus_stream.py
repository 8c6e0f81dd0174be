"""A multistatus read as it arrives: each response is handed on as soon as it ends, whatever
the chunks the body comes in, with the values a whole-body parse gives."""

from __future__ import annotations

import pytest

from contactsync_worker.multistatus import (
    DavResponse,
    InvalidDavResponse,
    MultistatusReader,
    parse_multistatus,
)
from contactsync_worker.sources.dav_listing import ListingWriter

CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:Erika &amp; Max\r\nEND:VCARD\r\n"
# The card as read: entities resolved, and line ends normalized as XML reads them.
READ = CARD.replace("&amp;", "&").replace("\r\n", "\n")


def response(href: str, etag: str = '"1"', card: str | None = CARD, status: str = "200") -> str:
    data = f"<C:address-data>{card}</C:address-data>" if card is not None else ""
    # The propstat's status after its prop, as RFC 4918 orders them.
    return (
        f"<D:response><D:href>{href}</D:href><D:propstat><D:prop>"
        f"<D:getetag>{etag}</D:getetag>{data}</D:prop>"
        f"<D:status>HTTP/1.1 {status} OK</D:status></D:propstat></D:response>"
    )


SYNC_TOKEN = "http://example.com/sync/7"


def body(*responses: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
        + "".join(responses)
        + f"<D:sync-token>{SYNC_TOKEN}</D:sync-token></D:multistatus>"
    ).encode()


def test_each_response_is_handed_on_as_soon_as_it_ends() -> None:
    first, second = response("/book/a.vcf"), response("/book/b.vcf")
    whole = body(first, second)
    cut = whole.index(b"</D:response>") + len("</D:response>")
    reader = MultistatusReader()

    early = reader.feed(whole[:cut])
    late = reader.feed(whole[cut:]) + reader.close()

    assert [r.href for r in early] == ["/book/a.vcf"]
    assert [r.href for r in late] == ["/book/b.vcf"]
    assert reader.sync_token == "http://example.com/sync/7"


def test_byte_by_byte_reads_as_the_whole_body_does() -> None:
    whole = body(
        response("/book/a%20b.vcf"),
        response("/book/gone.vcf", card=None).replace(
            "<D:propstat>", "<D:status>HTTP/1.1 404 Not Found</D:status><D:propstat>", 1
        ),
    )
    reader = MultistatusReader()
    pieces: list[DavResponse] = []
    for index in range(len(whole)):
        pieces += reader.feed(whole[index : index + 1])
    pieces += reader.close()

    assert pieces == parse_multistatus(whole).responses
    assert pieces[0] == DavResponse("/book/a b.vcf", None, '"1"', READ)
    assert pieces[1].status == 404


def test_only_a_propstat_of_200_gives_values() -> None:
    refused = response("/book/a.vcf", etag='"x"', status="404").replace("</D:response>", "") + (
        '<D:propstat><D:prop><D:getetag>"2"</D:getetag></D:prop>'
        "<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
    )
    [found] = parse_multistatus(body(refused)).responses
    assert found.etag == '"2"'
    assert found.address_data is None


def test_a_body_cut_off_mid_response_is_invalid_not_short() -> None:
    whole = body(response("/book/a.vcf"), response("/book/b.vcf"))
    reader = MultistatusReader()
    reader.feed(whole[: len(whole) // 2])
    with pytest.raises(InvalidDavResponse, match="not well-formed"):
        reader.close()


def test_a_body_that_is_no_multistatus_is_refused() -> None:
    with pytest.raises(InvalidDavResponse, match="multistatus"):
        parse_multistatus(b'<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>')
    with pytest.raises(InvalidDavResponse):
        parse_multistatus(b"")


def test_a_response_without_an_href_is_refused() -> None:
    with pytest.raises(InvalidDavResponse, match="without DAV:href"):
        parse_multistatus(body(response("")))


def test_a_listing_pages_what_the_report_listed_without_the_collection() -> None:
    members = [response(f"/book/{n}.vcf") for n in range(7)]
    whole = body(response("/book/", card=None), *members)
    writer = ListingWriter("", "/book/", page_size=3)
    for start in range(0, len(whole), 100):
        writer(whole[start : start + 100])
    listing = writer.finish()
    try:
        assert (listing.count, listing.pages, listing.truncated) == (7, 3, False)
        pages = [[r.href for r in listing.page(i)] for i in range(4)]
        assert pages == [
            ["/book/0.vcf", "/book/1.vcf", "/book/2.vcf"],
            ["/book/3.vcf", "/book/4.vcf", "/book/5.vcf"],
            ["/book/6.vcf"],
            [],
        ]
        assert listing.page(1)[0].address_data == READ
        assert listing.sync_token == "http://example.com/sync/7"
    finally:
        listing.close()


def test_the_same_report_gives_the_same_digest_and_another_does_not() -> None:
    def digest(whole: bytes) -> str:
        writer = ListingWriter("", "/book/", page_size=2)
        writer(whole)
        listing = writer.finish()
        listing.close()
        return listing.digest

    one = body(response("/book/a.vcf"), response("/book/b.vcf"))
    changed = body(response("/book/a.vcf"), response("/book/b.vcf", etag='"2"'))
    assert digest(one) == digest(one)
    assert digest(one) != digest(changed)


def test_a_member_listed_as_507_marks_the_listing_truncated() -> None:
    truncated = (
        "<D:response><D:href>/book/</D:href>"
        "<D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>"
    )
    writer = ListingWriter("", "/book/", page_size=10)
    writer(body(response("/book/a.vcf"), truncated))
    listing = writer.finish()
    listing.close()
    assert (listing.count, listing.truncated) == (1, True)
