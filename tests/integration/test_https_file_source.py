"""File sources over real HTTPS on loopback: verified TLS with the CA from a Secret, Bearer
tokens from a Secret (read for each download, so a rotated one is used), and every failure a
SourceUnavailable that deletes nothing, named for what it is: refused, not found, unreachable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.errors import (
    SourceAuthenticationRefused,
    SourceNotFound,
    SourceUnavailable,
    SourceUnreachable,
)
from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.sources.files import CsvSource, JsonLinesSource
from contactsync_worker.transport import InsecureTransportError
from tests.servers.https import HttpsServer, Route, running_https_server
from tests.servers.process import free_port

TOKEN = "file-token-7f3a9c"
POLICY = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS}))
CSV = "id,fullName,emails,note\np1,Jürgen Groß,jg@example.test,private\np2,Ada,ada@example.test,x\n"
JSONL = "".join(
    json.dumps({"id": f"j{n}", "fullName": f"Person {n}", "emails": [f"p{n}@example.test"]}) + "\n"
    for n in range(3)
)
# Larger than the spool's frames and the download's chunks, with names that straddle them.
MANY = "".join(
    json.dumps({"id": f"m{n}", "fullName": f"Zoë Ångström {n}"}, ensure_ascii=False) + "\n"
    for n in range(20_000)
).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("https-files")) as server:
        server.routes["/people.csv"] = Route(
            body=CSV.encode(), headers={"Content-Type": "text/csv"}
        )
        server.routes["/people.jsonl"] = Route(body=JSONL.encode())
        server.routes["/private.csv"] = Route(body=CSV.encode(), bearer=TOKEN)
        server.routes["/many.jsonl"] = Route(body=MANY)
        yield server


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("http-files"), tls=False) as server:
        server.routes["/people.csv"] = Route(body=CSV.encode())
        yield server


@pytest.fixture(scope="module")
def secrets_dir(server: HttpsServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mounted Secrets as the operator lays them out: one directory per Secret."""
    root = tmp_path_factory.mktemp("secrets")
    assert server.ca_bundle is not None
    (root / "files-ca").mkdir()
    (root / "files-ca" / "ca.crt").write_bytes(server.ca_bundle.read_bytes())
    (root / "files-token").mkdir()
    (root / "files-token" / "token").write_text(TOKEN + "\n")
    return root


def spec(url: str, *, ca: bool = True, token: bool = False) -> FileSourceSpec:
    document: dict[str, object] = {"url": url}
    if ca:
        document["caBundleSecretRef"] = {"name": "files-ca", "key": "ca.crt"}
    if token:
        document["credentialsSecretRef"] = {"name": "files-token"}
    return FileSourceSpec.model_validate(document)


async def test_csv_over_https_is_read_when_the_ca_bundle_is_trusted(
    server: HttpsServer, secrets_dir: Path
) -> None:
    source = CsvSource("remote", spec(f"{server.url}/people.csv"), POLICY, secrets_dir=secrets_dir)

    page = await source.fetch(None, None)

    assert page.complete
    assert [(c.item_id, c.fields[F.FULL_NAME]) for c in page.contacts] == [
        ("p1", "Jürgen Groß"),
        ("p2", "Ada"),
    ]
    assert all(F.NOTE not in c.fields for c in page.contacts)


async def test_jsonl_over_https_pages_from_one_download(
    server: HttpsServer, secrets_dir: Path
) -> None:
    before = len(server.received("/people.jsonl"))
    source = JsonLinesSource(
        "remote", spec(f"{server.url}/people.jsonl"), POLICY, secrets_dir=secrets_dir, page_size=2
    )

    first = await source.fetch(None, None)
    second = await source.fetch(first.cursor, None)

    assert [c.item_id for c in first.contacts + second.contacts] == ["j0", "j1", "j2"]
    assert second.complete
    # The adapter already holds the version its cursor names: no second download.
    assert len(server.received("/people.jsonl")) == before + 1


async def test_without_the_ca_bundle_the_server_is_untrusted(
    server: HttpsServer, secrets_dir: Path
) -> None:
    source = CsvSource(
        "remote", spec(f"{server.url}/people.csv", ca=False), POLICY, secrets_dir=secrets_dir
    )

    with pytest.raises(SourceUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
        await source.fetch(None, None)


async def test_the_token_is_sent_as_bearer(server: HttpsServer, secrets_dir: Path) -> None:
    url = f"{server.url}/private.csv"
    with_token = CsvSource("private", spec(url, token=True), POLICY, secrets_dir=secrets_dir)
    without = CsvSource("private", spec(url), POLICY, secrets_dir=secrets_dir)

    assert len((await with_token.fetch(None, None)).contacts) == 2
    with pytest.raises(SourceAuthenticationRefused, match="HTTP 401") as refused:
        await without.fetch(None, None)

    assert server.received("/private.csv")[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(refused.value)


async def test_an_http_error_is_unavailable_not_empty(
    server: HttpsServer, secrets_dir: Path
) -> None:
    source = CsvSource("remote", spec(f"{server.url}/gone.csv"), POLICY, secrets_dir=secrets_dir)

    with pytest.raises(SourceNotFound, match="HTTP 404"):
        await source.fetch(None, None)


async def test_a_server_that_is_down_is_unavailable(secrets_dir: Path) -> None:
    url = f"https://127.0.0.1:{free_port()}/people.csv"
    source = CsvSource("remote", spec(url), POLICY, secrets_dir=secrets_dir)

    with pytest.raises(SourceUnreachable, match="ConnectError") as error:
        await source.fetch(None, None)
    assert error.value.__cause__ is not None


async def test_a_rotated_token_is_sent_by_the_same_source(
    server: HttpsServer, secrets_dir: Path
) -> None:
    (secrets_dir / "rotating-token").mkdir()
    (secrets_dir / "rotating-token" / "token").write_text("first-token\n")
    server.routes["/rotating.csv"] = Route(body=CSV.encode(), bearer="first-token")
    document = {
        "url": f"{server.url}/rotating.csv",
        "caBundleSecretRef": {"name": "files-ca", "key": "ca.crt"},
        "credentialsSecretRef": {"name": "rotating-token"},
    }
    source = CsvSource(
        "rotating", FileSourceSpec.model_validate(document), POLICY, secrets_dir=secrets_dir
    )
    assert len((await source.fetch(None, None)).contacts) == 2

    server.routes["/rotating.csv"] = Route(body=CSV.encode(), bearer="second-token")
    (secrets_dir / "rotating-token" / "token").write_text("second-token\n")

    assert len((await source.fetch(None, None)).contacts) == 2
    assert server.received("/rotating.csv")[-1].headers["authorization"] == "Bearer second-token"


async def test_a_redirect_to_http_is_refused_and_the_token_stays_home(
    server: HttpsServer, plain_server: HttpsServer, secrets_dir: Path
) -> None:
    server.routes["/moved.csv"] = Route(
        status=302, headers={"Location": f"{plain_server.url}/people.csv"}
    )
    source = CsvSource(
        "remote", spec(f"{server.url}/moved.csv", token=True), POLICY, secrets_dir=secrets_dir
    )

    with pytest.raises(SourceUnavailable, match="redirect") as error:
        await source.fetch(None, None)

    assert isinstance(error.value.__cause__, InsecureTransportError)
    assert plain_server.received("/people.csv") == []


async def test_a_download_pages_from_one_copy_record_for_record(
    server: HttpsServer, secrets_dir: Path
) -> None:
    before = len(server.received("/many.jsonl"))
    source = JsonLinesSource(
        "remote", spec(f"{server.url}/many.jsonl"), POLICY, secrets_dir=secrets_dir, page_size=900
    )

    pages = [await source.fetch(None, None)]
    while not pages[-1].complete:
        pages.append(await source.fetch(pages[-1].cursor, None))
    await source.aclose()

    assert len(MANY) > 8 * 64 * 1024
    assert len(pages) == 23
    contacts = [c for p in pages for c in p.contacts]
    assert [(c.item_id, c.fields[F.FULL_NAME]) for c in contacts] == [
        (f"m{n}", f"Zoë Ångström {n}") for n in range(20_000)
    ]
    assert len(server.received("/many.jsonl")) == before + 1


async def test_a_download_over_max_bytes_is_unavailable(
    server: HttpsServer, secrets_dir: Path
) -> None:
    source = JsonLinesSource(
        "remote",
        spec(f"{server.url}/many.jsonl"),
        POLICY,
        secrets_dir=secrets_dir,
        max_bytes=len(MANY) // 2,
    )

    with pytest.raises(SourceUnavailable, match=rf"larger than {len(MANY) // 2} bytes"):
        await source.fetch(None, None)
