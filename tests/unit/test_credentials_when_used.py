"""Credentials are read from the mounted Secret when they are used, not when an adapter is
built: a CardDAV adapter the region keeps sends the rotated password with its next request,
and a Secret without the key it needs is a configuration error naming whose it is."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from contactsync_api.endpoints.carddav import CardDavSpec
from contactsync_api.errors import SOURCE_ERRORS, ConfigurationError
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.webdav import DavSession, dav_access

URL = "https://dav.example/books/team/"


def basic(login: str) -> str:
    return "Basic " + base64.b64encode(login.encode()).decode()


def mount(secrets_dir: Path, **keys: str) -> None:
    (secrets_dir / "dav").mkdir(exist_ok=True)
    for key, value in keys.items():
        (secrets_dir / "dav" / key).write_text(value + "\n")


def session(secrets_dir: Path, sent: list[str]) -> DavSession:
    """A session as the CardDAV source builds it, over a transport that records each
    request's Authorization header."""
    spec = CardDavSpec.model_validate({"url": URL, "credentialsSecretRef": {"name": "dav"}})
    login, _ = dav_access(spec, AdapterContext(FieldPolicy(allowed=frozenset()), secrets_dir, None))

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers["Authorization"])
        return httpx.Response(207)

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return DavSession(URL, client, login, SOURCE_ERRORS, "CardDAV source 'team'")


async def test_a_rotated_password_is_sent_with_the_next_request(tmp_path: Path) -> None:
    mount(tmp_path, username="team", password="first-password")
    sent: list[str] = []
    dav = session(tmp_path, sent)

    await dav.request("REPORT")
    mount(tmp_path, password="second-password")
    await dav.request("REPORT")

    assert sent == [basic("team:first-password"), basic("team:second-password")]


async def test_a_secret_without_its_key_is_a_configuration_error_naming_whose(
    tmp_path: Path,
) -> None:
    mount(tmp_path, username="team")
    sent: list[str] = []
    dav = session(tmp_path, sent)

    with pytest.raises(ConfigurationError) as missing:
        await dav.request("REPORT")

    assert sent == [], "nothing is sent without the password"
    assert str(missing.value).startswith("CardDAV source 'team' at dav.example: Secret 'dav'")
    assert "no key 'password'" in str(missing.value)
