"""The transport policy and credentials: clear text refused, redirects never downgrade, a CA
bundle is the only trust, secrets never print.

The redirect and trust tests talk to a loopback server in a thread (tests/servers/https.py):
what they prove is what the TLS and HTTP stack does, which a fake could not show.
"""

from __future__ import annotations

import logging
import pickle
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contactsync_worker import credentials
from contactsync_worker.credentials import CredentialsError, Redacted
from contactsync_worker.transport import (
    USER_AGENT,
    BearerAuth,
    InsecureTransportError,
    check_egress_now,
    http_client,
    ldap_tls,
    tls_context,
)
from tests.servers.https import HttpsServer, Route, running_https_server

SECRET = "s3cr3t-Pa55word!"


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("https-pki")) as server:
        yield server


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("http"), tls=False) as server:
        yield server


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with running_https_server(tmp_path_factory.mktemp("other-pki")) as server:
        assert server.ca_bundle is not None
        yield server.ca_bundle


# --- clear text ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://contacts.example.test/a.csv", "ftp://example.test/"])
def test_a_url_without_tls_is_refused(url: str) -> None:
    with pytest.raises(InsecureTransportError):
        http_client(url, allow_insecure=False, ca_bundle=None)


async def test_http_is_allowed_only_when_insecure_is_allowed(http_server: HttpsServer) -> None:
    http_server.routes["/plain"] = Route(body=b"ok")
    async with http_client(
        f"{http_server.url}/plain", allow_insecure=True, ca_bundle=None
    ) as client:
        response = await client.get(f"{http_server.url}/plain")
    assert response.content == b"ok"


async def test_a_redirect_from_https_to_http_is_refused_before_anything_is_sent(
    https_server: HttpsServer, http_server: HttpsServer
) -> None:
    https_server.routes["/moved"] = Route(
        status=302, headers={"Location": f"{http_server.url}/landing"}
    )
    # Even allowInsecure does not let a server choose clear text for an https:// URL.
    for allow_insecure in (False, True):
        async with http_client(
            f"{https_server.url}/moved",
            allow_insecure=allow_insecure,
            ca_bundle=https_server.ca_bundle,
            auth=BearerAuth(Redacted(SECRET)),
        ) as client:
            with pytest.raises(InsecureTransportError, match="redirect"):
                await client.get(f"{https_server.url}/moved")
    assert http_server.received("/landing") == []


async def test_a_redirect_within_https_is_followed(https_server: HttpsServer) -> None:
    https_server.routes["/old"] = Route(status=301, headers={"Location": "/new"})
    https_server.routes["/new"] = Route(body=b"here")
    async with http_client(
        f"{https_server.url}/old", allow_insecure=False, ca_bundle=https_server.ca_bundle
    ) as client:
        response = await client.get(f"{https_server.url}/old")
    assert response.content == b"here"


async def test_requests_name_contactsync_as_user_agent(https_server: HttpsServer) -> None:
    https_server.routes["/ua"] = Route()
    async with http_client(
        f"{https_server.url}/ua", allow_insecure=False, ca_bundle=https_server.ca_bundle
    ) as client:
        await client.get(f"{https_server.url}/ua")
    [request] = https_server.received("/ua")
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("contactsync/")


# --- trust --------------------------------------------------------------------------


def test_a_ca_bundle_is_the_only_trust_anchor(https_server: HttpsServer) -> None:
    assert https_server.ca_bundle is not None
    context = tls_context(https_server.ca_bundle)

    [ca] = context.get_ca_certs()
    assert "contactsync-test-ca" in str(ca["subject"])
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


async def test_the_server_is_trusted_with_its_ca_bundle_only(
    https_server: HttpsServer, other_ca: Path
) -> None:
    https_server.routes["/trust"] = Route(body=b"trusted")
    url = f"{https_server.url}/trust"
    async with http_client(url, allow_insecure=False, ca_bundle=https_server.ca_bundle) as client:
        assert (await client.get(url)).content == b"trusted"
    for bundle in (None, other_ca):  # the system store, then another CA
        async with http_client(url, allow_insecure=False, ca_bundle=bundle) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(url)


# --- LDAP ---------------------------------------------------------------------------


def test_ldap_without_tls_is_refused_unless_insecure_is_allowed() -> None:
    with pytest.raises(InsecureTransportError, match="startTLS"):
        ldap_tls("ldap://dir.example.test", start_tls=False, allow_insecure=False, ca_bundle=None)
    assert (
        ldap_tls("ldap://dir.example.test", start_tls=False, allow_insecure=True, ca_bundle=None)
        is None
    )


@pytest.mark.parametrize(
    ("url", "start_tls"), [("ldaps://dir.example.test", False), ("ldap://dir.example.test", True)]
)
def test_ldap_tls_requires_a_verified_certificate(
    url: str, start_tls: bool, https_server: HttpsServer
) -> None:
    bundle = https_server.ca_bundle
    tls = ldap_tls(url, start_tls=start_tls, allow_insecure=False, ca_bundle=bundle)

    assert tls is not None
    assert tls.validate == ssl.CERT_REQUIRED
    assert tls.ca_certs_file == str(bundle)
    assert tls.sni == "dir.example.test"


# --- credentials --------------------------------------------------------------------


def test_redacted_never_shows_its_value(caplog: pytest.LogCaptureFixture) -> None:
    secret = Redacted(SECRET)
    error = RuntimeError(f"bind failed with {secret} / {secret!r} / %s" % secret)
    logging.getLogger("test").warning("password is %s, %r", secret, secret)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret:>30}",
        "{}".format(secret),  # noqa: UP032 - str.format is the case under test
        str(error),
        repr(credentials.BindCredentials("cn=Erika,dc=example", secret)),
        caplog.text,
    ]
    assert all(SECRET not in text for text in shown)
    assert "Erika" not in shown[-2]
    assert secret.reveal() == SECRET
    with pytest.raises(TypeError):
        pickle.dumps(secret)


def write_secret(root: Path, secret: str, key: str, value: str) -> None:
    (root / secret).mkdir(parents=True, exist_ok=True)
    (root / secret / key).write_text(value)


def test_credentials_are_read_with_trailing_newlines_stripped(tmp_path: Path) -> None:
    write_secret(tmp_path, "ldap-bind", "bindDN", "cn=sync,dc=example,dc=test\n")
    write_secret(tmp_path, "ldap-bind", "password", SECRET + "\r\n")
    write_secret(tmp_path, "file-token", "token", "tok-123\n")

    bind = credentials.ldap_bind("ldap-bind", secrets_dir=tmp_path)

    assert bind.bind_dn == "cn=sync,dc=example,dc=test"
    assert bind.password.reveal() == SECRET
    assert credentials.bearer_token("file-token", secrets_dir=tmp_path).reveal() == "tok-123"


def test_a_missing_or_empty_key_names_the_secret_and_key_but_no_value(tmp_path: Path) -> None:
    write_secret(tmp_path, "dav", "username", "erika\n")
    write_secret(tmp_path, "empty", "token", "\n")

    with pytest.raises(CredentialsError, match=r"'dav'.*'password'") as missing:
        credentials.username_password("dav", secrets_dir=tmp_path)
    with pytest.raises(CredentialsError, match=r"'empty'.*'token'.*empty"):
        credentials.bearer_token("empty", secrets_dir=tmp_path)
    assert "erika" not in str(missing.value)


def test_secret_names_cannot_leave_the_secrets_directory(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError):
        credentials.read_secret("..", "password", secrets_dir=tmp_path)
    with pytest.raises(CredentialsError):
        credentials.read_secret("dav", "../dav/password", secrets_dir=tmp_path)


def test_a_ca_bundle_key_must_hold_a_pem_certificate(tmp_path: Path) -> None:
    write_secret(tmp_path, "ca", "password", SECRET)
    with pytest.raises(CredentialsError, match="no PEM certificate") as error:
        credentials.ca_bundle("ca", "password", secrets_dir=tmp_path)
    assert SECRET not in str(error.value)


# --- link-local addresses --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "https://[fe80::1]/",
        "https://[fd00:ec2::254]/",
    ],
)
async def test_link_local_and_metadata_addresses_are_refused_before_connecting(url: str) -> None:
    async with http_client(url, allow_insecure=True, ca_bundle=None) as client:
        with pytest.raises(InsecureTransportError, match="link-local"):
            await client.get(url)


async def test_a_redirect_to_instance_metadata_is_refused(http_server: HttpsServer) -> None:
    http_server.routes["/to-metadata"] = Route(
        status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    url = f"{http_server.url}/to-metadata"
    async with http_client(url, allow_insecure=True, ca_bundle=None) as client:
        with pytest.raises(InsecureTransportError, match="link-local"):
            await client.get(url)


def test_ldap_hosts_are_checked_the_same_way() -> None:
    with pytest.raises(InsecureTransportError, match="link-local"):
        check_egress_now("169.254.169.254", 636, None)
    check_egress_now("127.0.0.1", 636, None)  # loopback, like any routable address, is fine
