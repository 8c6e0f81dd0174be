"""A CardDAV server cannot make a worker hold an unbounded body: a response larger than the
cap is refused as the source being unavailable, over real HTTPS on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contactsync_api.errors import SOURCE_ERRORS, SourceUnavailable
from contactsync_worker.transport import http_client
from contactsync_worker.webdav import DavSession
from tests.servers.https import HttpsServer, Route, running_https_server

MIB = 2**20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("dav-cap")) as server:
        server.routes["/big/"] = Route(body=b"x" * (3 * MIB))
        server.routes["/small/"] = Route(body=b"y" * (MIB // 2))
        yield server


def session(server: HttpsServer, path: str) -> DavSession:
    def client() -> httpx.AsyncClient:
        return http_client(f"{server.url}{path}", allow_insecure=False, ca_bundle=server.ca_bundle)

    return DavSession(
        f"{server.url}{path}", client, None, SOURCE_ERRORS, "CardDAV source 'team'", MIB
    )


async def test_a_body_over_the_cap_is_refused_as_unavailable(server: HttpsServer) -> None:
    dav = session(server, "/big/")
    try:
        with pytest.raises(SourceUnavailable, match="larger than 1 MiB"):
            await dav.request("GET")
    finally:
        await dav.aclose()


async def test_a_body_under_the_cap_arrives_whole(server: HttpsServer) -> None:
    dav = session(server, "/small/")
    try:
        response = await dav.request("GET")
    finally:
        await dav.aclose()
    assert response.status_code == 200
    assert response.content == b"y" * (MIB // 2)
