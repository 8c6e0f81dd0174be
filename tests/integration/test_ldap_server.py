"""slapd is a real LDAP server: simple bind, filtered search, paged results (RFC 2696)."""

from __future__ import annotations

from collections.abc import Iterator

import ldap3
import pytest

from tests.servers.slapd import LdapPerson, SlapdServer

pytestmark = pytest.mark.ldap

PEOPLE = [
    LdapPerson(
        uid=f"user{n}", given_name=f"Given{n}", surname=f"Sur{n}", mail=f"user{n}@example.test"
    )
    for n in range(5)
]


@pytest.fixture
def conn(slapd_server: SlapdServer) -> Iterator[ldap3.Connection]:
    conn = slapd_server.connect()
    yield conn
    conn.unbind()


def test_simple_bind_search_finds_a_seeded_person_with_mail(
    slapd_server: SlapdServer, conn: ldap3.Connection
) -> None:
    ou_dn = slapd_server.add_people(PEOPLE[:1], ou="search")

    assert conn.search(ou_dn, "(objectClass=inetOrgPerson)", attributes=["mail", "uid"])

    [entry] = conn.entries
    assert entry.entry_dn == f"uid=user0,{ou_dn}"
    assert entry.mail.value == "user0@example.test"


def test_a_wrong_password_is_refused(slapd_server: SlapdServer) -> None:
    server = ldap3.Server(slapd_server.url)
    conn = ldap3.Connection(server, user=slapd_server.bind_dn, password="wrong")

    assert not conn.bind()
    assert conn.result["description"] == "invalidCredentials"


def test_paged_search_of_two_per_page_returns_all_five_people(
    slapd_server: SlapdServer, conn: ldap3.Connection
) -> None:
    ou_dn = slapd_server.add_people(PEOPLE, ou="paging")
    uids: list[str] = []
    pages = 0
    cookie: bytes | None = None

    while True:
        conn.search(
            ou_dn,
            "(objectClass=inetOrgPerson)",
            attributes=["uid"],
            paged_size=2,
            paged_cookie=cookie,
        )
        pages += 1
        assert len(conn.entries) <= 2
        uids.extend(entry.uid.value for entry in conn.entries)
        control = conn.result["controls"]["1.2.840.113556.1.4.319"]["value"]
        cookie = control["cookie"]
        if not cookie:
            break

    assert pages == 3
    assert sorted(uids) == [person.uid for person in PEOPLE]
