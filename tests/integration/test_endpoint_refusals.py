"""What each server's refusal is called, against a real slapd and PostgreSQL: a wrong password
is refused (not retried), a base DN or database that is not there is not found, a server nobody
answers is unreachable; and a password rotated in the mounted Secret is used by the same adapter
at its next connection, without a restart."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import ldap3
import pytest
from psycopg.conninfo import make_conninfo

from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.endpoints.postgres import PostgresDestinationSpec
from contactsync_api.errors import (
    DestinationAuthenticationRefused,
    DestinationNotFound,
    DestinationUnreachable,
    SourceAuthenticationRefused,
    SourceNotFound,
    SourceUnreachable,
)
from contactsync_api.fields import ContactField as F
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.destinations.postgres import PostgresDestination
from contactsync_worker.sources.ldap import LdapSource
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.slapd import LdapPerson, SlapdServer

POLICY = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS}))


def mount(secrets_dir: Path, secret: str, **keys: str) -> None:
    """Write a mounted Secret, or rotate its keys in place (as the kubelet does)."""
    (secrets_dir / secret).mkdir(parents=True, exist_ok=True)
    for key, value in keys.items():
        (secrets_dir / secret / key).write_text(value + "\n")


def ldap_source(url: str, base_dn: str, secrets_dir: Path, secret: str) -> LdapSource:
    spec = LdapSourceSpec.model_validate(
        {
            "url": url,
            "baseDN": base_dn,
            "credentialsSecretRef": {"name": secret},
            "allowInsecure": True,  # the test slapd speaks ldap:// without TLS
        }
    )
    return LdapSource("directory", spec, POLICY, secrets_dir=secrets_dir, timeout=5)


def people(slapd: SlapdServer) -> str:
    people = [LdapPerson(f"p{n}", "Person", f"N{n}", f"p{n}@example.org") for n in range(2)]
    return slapd.add_people(people, ou=f"refusals-{uuid.uuid4().hex[:8]}")


@pytest.mark.ldap
async def test_ldap_failures_say_what_they_are(slapd_server: SlapdServer, tmp_path: Path) -> None:
    base = people(slapd_server)
    mount(tmp_path, "bind", bindDN=slapd_server.bind_dn, password=slapd_server.password)
    mount(tmp_path, "wrong", bindDN=slapd_server.bind_dn, password="wrong-pw-73")

    with pytest.raises(SourceAuthenticationRefused, match="invalidCredentials") as refused:
        await ldap_source(slapd_server.url, base, tmp_path, "wrong").fetch(None, None)
    missing = f"ou=nobody-{uuid.uuid4().hex[:8]},{slapd_server.base_dn}"
    with pytest.raises(SourceNotFound, match="noSuchObject"):
        await ldap_source(slapd_server.url, missing, tmp_path, "bind").fetch(None, None)
    down = f"ldap://127.0.0.1:{free_port()}"
    with pytest.raises(SourceUnreachable, match="cannot connect"):
        await ldap_source(down, base, tmp_path, "bind").fetch(None, None)
    assert "wrong-pw-73" not in str(refused.value)


@pytest.mark.ldap
async def test_a_rotated_bind_password_is_used_at_the_next_connection(
    slapd_server: SlapdServer, tmp_path: Path
) -> None:
    base = people(slapd_server)
    reader = f"uid=reader-{uuid.uuid4().hex[:8]},{base}"
    admin = slapd_server.connect()
    try:
        attributes = {"uid": reader[4:].split(",")[0], "cn": "Reader", "sn": "Reader"}
        assert admin.add(reader, ["inetOrgPerson"], {**attributes, "userPassword": "first"})
        mount(tmp_path, "reader", bindDN=reader, password="first")
        source = ldap_source(slapd_server.url, base, tmp_path, "reader")
        assert len((await source.fetch(None, None)).contacts) == 3

        change = {"userPassword": [(ldap3.MODIFY_REPLACE, ["second"])]}
        assert admin.modify(reader, change), admin.result
        with pytest.raises(SourceAuthenticationRefused):
            await source.fetch(None, None)

        mount(tmp_path, "reader", password="second")
        assert len((await source.fetch(None, None)).contacts) == 3
    finally:
        admin.unbind()


def destination(secrets_dir: Path, schema: str) -> PostgresDestination:
    spec = PostgresDestinationSpec.model_validate(
        {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "schema": schema}
    )
    return PostgresDestination.from_spec(
        "phonebook", spec, AdapterContext(POLICY, secrets_dir, None)
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "failure"),
    [
        (lambda: {"password": "wrong-pw-59"}, DestinationAuthenticationRefused),
        (lambda: {"dbname": "no_such_database"}, DestinationNotFound),
        (lambda: {"port": str(free_port())}, DestinationUnreachable),
    ],
    ids=["password", "database", "port"],
)
async def test_postgres_failures_say_what_they_are(
    postgres_server: PostgresServer,
    tmp_path: Path,
    change: Callable[[], dict[str, str]],
    failure: type[Exception],
) -> None:
    mount(tmp_path, "pg", dsn=make_conninfo(postgres_server.dsn, **change()))
    target = destination(tmp_path, "refusals")
    with pytest.raises(failure, match=r"PostgreSQL destination refusals\.contacts") as raised:
        await target.count()
    assert "wrong-pw-59" not in str(raised.value)
    assert postgres_server.host not in str(raised.value), "the message names the table only"


@pytest.mark.postgres
async def test_a_rotated_database_password_is_used_at_the_next_connection(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    role = f"rotating_{uuid.uuid4().hex[:8]}"
    mount(tmp_path, "pg", dsn=postgres_server.login_role(role, "first-password"))
    target = destination(tmp_path, role)
    try:
        assert await target.count() == 0

        rotated = postgres_server.login_role(role, "second-password")
        await target.aclose()  # the connection ends, as a restarted server or a network ends it
        with pytest.raises(DestinationAuthenticationRefused):
            await target.count()

        mount(tmp_path, "pg", dsn=rotated)
        assert await target.count() == 0
    finally:
        await target.aclose()
