"""The LDAP source against a real slapd: paged snapshots, minimization at the query, consent,
stable ids, quarantine, and every failure a SourceUnavailable that deletes nothing.

The test schema (core, cosine, nis, inetorgperson) has no consent attribute, so the tests
use ``businessCategory`` as the consent property: a free-text, multi-valued
directoryString any inetOrgPerson may hold, as a site's own consent attribute would be.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ldap3
import pytest

from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.errors import CursorExpired, SourceUnavailable
from contactsync_api.fields import ContactField as F
from contactsync_api.fields import IdentityKey
from contactsync_api.spec import ConsentSpec
from contactsync_worker.contacts.consent import ConsentVerdict, judge
from contactsync_worker.contacts.model import FieldPolicy, Page
from contactsync_worker.contacts.typed import Typed, texts
from contactsync_worker.sources.ldap import MAX_ENTRY_BYTES, MAX_RESPONSE_BYTES, LdapSource
from tests.servers.https import HttpsServer, running_https_server
from tests.servers.process import free_port
from tests.servers.slapd import STATS_AND_ARGS, LdapPerson, SlapdServer, running_slapd

pytestmark = pytest.mark.ldap

CONSENT = "businessCategory"
NOTE_MARKER = "NOTE-MARKER-not-allowed"
POLICY = FieldPolicy(
    allowed=frozenset({F.FULL_NAME, F.GIVEN_NAME, F.FAMILY_NAME, F.EMAILS}),
    consent_property=CONSENT,
)


def people(count: int) -> list[LdapPerson]:
    return [
        LdapPerson(
            uid=f"user{n}", given_name=f"Given{n}", surname=f"Sür{n}", mail=f"user{n}@example.test"
        )
        for n in range(count)
    ]


@pytest.fixture
def ou(slapd_server: SlapdServer) -> str:
    """A fresh, empty ou for one test; the test seeds it."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def secrets_dir(slapd_server: SlapdServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secrets")
    for secret, password in (("ldap-bind", slapd_server.password), ("ldap-wrong", "wrong-pw-41")):
        (root / secret).mkdir()
        (root / secret / "bindDN").write_text(slapd_server.bind_dn + "\n")
        (root / secret / "password").write_text(password + "\n")
    return root


def source(
    url: str,
    base_dn: str,
    secrets_dir: Path,
    *,
    policy: FieldPolicy = POLICY,
    page_size: int = 500,
    bind_ref: str = "ldap-bind",
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    max_entry_bytes: int = MAX_ENTRY_BYTES,
) -> LdapSource:
    config = LdapSourceSpec.model_validate(
        {
            "url": url,
            "baseDN": base_dn,
            "pageSize": page_size,
            "credentialsSecretRef": {"name": bind_ref},
            # The test slapd listens on ldap:// without TLS; the transport tests cover TLS.
            "allowInsecure": True,
        }
    )
    return LdapSource(
        "directory",
        config,
        policy,
        secrets_dir=secrets_dir,
        timeout=10,
        max_response_bytes=max_response_bytes,
        max_entry_bytes=max_entry_bytes,
    )


def modify(server: SlapdServer, dn: str, changes: dict[str, list[Any]]) -> None:
    conn = server.connect()
    try:
        ok = conn.modify(
            dn, {name: [(ldap3.MODIFY_REPLACE, values)] for name, values in changes.items()}
        )
        assert ok, conn.result
    finally:
        conn.unbind()


async def read_all(adapter: LdapSource) -> list[Page]:
    pages = [await adapter.fetch(None, None)]
    while not pages[-1].complete:
        pages.append(await adapter.fetch(pages[-1].cursor, None))
    return pages


async def test_seven_people_in_pages_of_three_arrive_in_three_pages_each_once(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(7), ou=ou)
    adapter = source(slapd_server.url, base, secrets_dir, page_size=3)

    pages = await read_all(adapter)
    await adapter.aclose()

    assert [len(p.contacts) for p in pages] == [3, 3, 1]
    assert [p.complete for p in pages] == [False, False, True]
    assert all(p.snapshot and not p.quarantined for p in pages)
    contacts = [c for p in pages for c in p.contacts]
    assert sorted(texts(c.fields[F.EMAILS])[0] for c in contacts) == [p.mail for p in people(7)]
    assert len({c.item_id for c in contacts}) == 7
    person = next(c for c in contacts if c.fields[F.GIVEN_NAME] == "Given3")
    assert person.fields == {
        F.FULL_NAME: "Given3 Sür3",
        F.GIVEN_NAME: "Given3",
        F.FAMILY_NAME: "Sür3",
        F.EMAILS: (Typed("user3@example.test", ("work",)),),
    }


def requested_since(server: SlapdServer, offset: int) -> list[set[str]]:
    """Attribute lists of the searches slapd logged after ``offset`` (its stats log level)."""
    log = server.process.log_path.read_text(errors="replace")[offset:]
    return [set(match.split()) for match in re.findall(r" SRCH attr=(.*)$", log, re.MULTILINE)]


async def test_only_the_attributes_the_policy_needs_are_fetched(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(2), ou=ou)
    for person in people(2):
        modify(slapd_server, f"uid={person.uid},{base}", {"description": [NOTE_MARKER]})
    log = slapd_server.process.log_path
    narrow = FieldPolicy(allowed=frozenset({F.EMAILS}), identity=(IdentityKey.EMAIL,))
    adapter = source(slapd_server.url, base, secrets_dir, policy=narrow)

    offset = len(log.read_text(errors="replace"))
    [page] = await read_all(adapter)

    # uid whatever spec.identity says: only an erasure by uid looks at it (by pseudonym).
    assert adapter.attributes == ["entryUUID", "mail", "uid"]
    # What the real server was asked for, from its own log: nothing beyond the policy.
    requested = requested_since(slapd_server, offset)
    assert requested
    assert all(names == {"entryUUID", "mail", "uid"} for names in requested)
    assert NOTE_MARKER not in repr(page)
    # Not merged on, so not written anywhere: it stays out of the contact's identity.
    assert all(c.uid is None and c.carried_uid for c in page.contacts)

    # The same entries with note allowed: description is requested and mapped.
    offset = len(log.read_text(errors="replace"))
    wide = FieldPolicy(allowed=frozenset({F.EMAILS, F.NOTE}), identity=(IdentityKey.EMAIL,))
    [page] = await read_all(source(slapd_server.url, base, secrets_dir, policy=wide))
    assert {c.fields[F.NOTE] for c in page.contacts} == {NOTE_MARKER}
    assert all("description" in names for names in requested_since(slapd_server, offset))


async def test_consent_is_read_from_the_consent_attribute(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(4), ou=ou)
    modify(slapd_server, f"uid=user0,{base}", {CONSENT: ["directory, newsletter"]})
    modify(slapd_server, f"uid=user1,{base}", {CONSENT: ["directory", "research"]})
    modify(slapd_server, f"uid=user2,{base}", {CONSENT: ["directory", "Revoked"]})

    [page] = await read_all(source(slapd_server.url, base, secrets_dir))

    consent = {c.fields[F.GIVEN_NAME]: c.consent for c in page.contacts}
    assert {name: sorted(values or ()) for name, values in consent.items()} == {
        "Given0": ["directory, newsletter"],
        "Given1": ["directory", "research"],
        "Given2": ["Revoked", "directory"],
        "Given3": [],
    }
    assert consent["Given3"] is None
    directory = ConsentSpec(purposes=["directory"])
    verdicts = {
        name: judge(values, directory, datetime.now(UTC)) for name, values in consent.items()
    }
    assert verdicts == {
        "Given0": ConsentVerdict.GRANTED,
        "Given1": ConsentVerdict.GRANTED,
        "Given2": ConsentVerdict.WITHDRAWN,  # a no among the values is a no
        "Given3": ConsentVerdict.MISSING,
    }


async def test_item_id_is_the_entry_uuid_and_survives_a_rename(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(1), ou=ou)
    adapter = source(slapd_server.url, base, secrets_dir, policy=POLICY)
    [before] = (await adapter.fetch(None, None)).contacts

    conn = slapd_server.connect()
    assert conn.modify_dn(f"uid=user0,{base}", "uid=renamed0"), conn.result
    conn.unbind()
    [after] = (await adapter.fetch(None, None)).contacts

    assert before.item_id == after.item_id
    assert uuid.UUID(after.item_id)
    assert "user0" not in after.item_id


async def test_uid_is_the_uid_attribute_when_uid_is_an_identity_key(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(1), ou=ou)

    [contact] = (await source(slapd_server.url, base, secrets_dir).fetch(None, None)).contacts

    assert contact.uid == "user0"
    assert contact.identity(POLICY.identity) == ("email:user0@example.test", "uid:user0")


async def test_fetch_items_reads_entries_by_id(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(4), ou=ou)
    adapter = source(slapd_server.url, base, secrets_dir)
    [page] = await read_all(adapter)
    by_name = {c.fields[F.GIVEN_NAME]: c.item_id for c in page.contacts}

    found = await adapter.fetch_items([by_name["Given1"], by_name["Given3"], str(uuid.uuid4())])
    by_dn = await adapter.fetch_items([f"uid=user2,{base}", f"uid=nobody,{base}"])
    outside = await adapter.fetch_items([slapd_server.bind_dn])

    assert sorted(c.fields[F.GIVEN_NAME] for c in found) == ["Given1", "Given3"]
    assert [c.fields[F.GIVEN_NAME] for c in by_dn] == ["Given2"]
    assert outside == []


async def test_an_entry_that_cannot_be_mapped_is_quarantined_under_a_pseudonym(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(2), ou=ou)
    modify(slapd_server, f"uid=user1,{base}", {"jpegPhoto": [b"GIF89a not a jpeg"]})
    photos = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.PHOTO}))

    [page] = await read_all(source(slapd_server.url, base, secrets_dir, policy=photos))

    [contact] = page.contacts
    [quarantined] = page.quarantined
    assert contact.fields == {F.FULL_NAME: "Given0 Sür0"}
    assert quarantined.reason == "jpegPhoto is not a JPEG image"
    assert uuid.UUID(quarantined.item_id)
    assert "user1" not in repr(quarantined)
    assert "Given1" not in repr(quarantined)


async def test_a_wrong_password_is_unavailable_and_not_repeated(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(1), ou=ou)
    adapter = source(slapd_server.url, base, secrets_dir, bind_ref="ldap-wrong")

    with pytest.raises(SourceUnavailable, match="invalidCredentials") as error:
        await adapter.fetch(None, None)

    assert "wrong-pw-41" not in str(error.value)
    assert slapd_server.password not in str(error.value)


async def test_a_server_that_is_down_is_unavailable(ou: str, secrets_dir: Path) -> None:
    adapter = source(f"ldap://127.0.0.1:{free_port()}", "dc=example", secrets_dir)

    with pytest.raises(SourceUnavailable, match="cannot connect") as error:
        await adapter.fetch(None, None)

    assert isinstance(error.value.__cause__, ldap3.core.exceptions.LDAPException)


async def test_a_cursor_from_another_connection_expires_the_run(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(4), ou=ou)
    first = await source(slapd_server.url, base, secrets_dir, page_size=2).fetch(None, None)

    other = source(slapd_server.url, base, secrets_dir, page_size=2)
    with pytest.raises(CursorExpired):
        await other.fetch(first.cursor, None)


@pytest.fixture(scope="module")
def tls_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    """A TLS listener with a test-CA certificate for 127.0.0.1 (it speaks HTTP, not LDAP:
    enough to see whether the handshake is verified)."""
    with running_https_server(tmp_path_factory.mktemp("ldaps-pki")) as server:
        yield server


async def test_ldaps_verifies_the_server_against_the_ca_bundle_only(
    tls_endpoint: HttpsServer, secrets_dir: Path
) -> None:
    assert tls_endpoint.ca_bundle is not None
    (secrets_dir / "ldaps-ca").mkdir(exist_ok=True)
    (secrets_dir / "ldaps-ca" / "ca.crt").write_bytes(tls_endpoint.ca_bundle.read_bytes())
    url = "ldaps://127.0.0.1:" + tls_endpoint.url.rsplit(":", 1)[1]

    def adapter(ca: bool) -> LdapSource:
        document: dict[str, object] = {"url": url, "baseDN": "dc=example"}
        if ca:
            document["caBundleSecretRef"] = {"name": "ldaps-ca", "key": "ca.crt"}
        config = LdapSourceSpec.model_validate(document)
        return LdapSource("directory", config, POLICY, secrets_dir=secrets_dir, timeout=1)

    with pytest.raises(SourceUnavailable, match="CERTIFICATE_VERIFY_FAILED") as untrusted:
        await adapter(ca=False).fetch(None, None)
    # With the bundle the handshake and hostname check pass; what fails then is LDAP
    # itself, because the peer speaks HTTP and never answers the bind.
    with pytest.raises(SourceUnavailable, match="LDAPSocketReceiveError") as trusted:
        await adapter(ca=True).fetch(None, None)

    assert isinstance(untrusted.value.__cause__, ldap3.core.exceptions.LDAPException)
    assert "CERTIFICATE_VERIFY_FAILED" not in str(trusted.value)


# --- what a server may send is bounded ------------------------------------------------

NOTES = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.NOTE}))


@pytest.fixture(scope="module")
def unpaged_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    """A second real slapd, on back-ldif, which has no paged results: it answers a paged
    search whole. It logs the size limit of every search it is asked."""
    workdir = tmp_path_factory.mktemp("slapd-unpaged")
    with running_slapd(workdir, backend="ldif", log_level=STATS_AND_ARGS) as server:
        yield server


def size_limits_since(server: SlapdServer, offset: int) -> list[tuple[str, int]]:
    """(base, size limit) of the searches slapd logged after ``offset`` (its args level)."""
    log = server.process.log_path.read_text(errors="replace")[offset:]
    found = re.findall(r' SRCH "([^"]*)" \d+ \d+\s+(\d+) \d+ \d+$', log, re.MULTILINE)
    return [(base, int(limit)) for base, limit in found]


async def test_a_server_that_does_not_page_is_refused_instead_of_read_whole(
    unpaged_slapd: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = unpaged_slapd.add_people(people(7), ou=ou)

    with pytest.raises(SourceUnavailable, match="sent 7 entries where at most 3 were asked"):
        await source(unpaged_slapd.url, base, secrets_dir, page_size=3).fetch(None, None)

    # A directory that fits in one page is read from it all the same.
    [page] = await read_all(source(unpaged_slapd.url, base, secrets_dir, page_size=7))
    assert len(page.contacts) == 7


async def test_lookups_by_id_ask_the_server_for_no_more_entries_than_ids(
    unpaged_slapd: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = unpaged_slapd.add_people(people(3), ou=ou)
    adapter = source(unpaged_slapd.url, base, secrets_dir)
    [page] = await read_all(adapter)
    by_name = {c.fields[F.GIVEN_NAME]: c.item_id for c in page.contacts}
    offset = len(unpaged_slapd.process.log_path.read_text(errors="replace"))

    found = await adapter.fetch_items([by_name["Given0"], by_name["Given1"], f"uid=user2,{base}"])

    assert sorted(c.fields[F.GIVEN_NAME] for c in found) == ["Given0", "Given1", "Given2"]
    assert size_limits_since(unpaged_slapd, offset) == [(base, 2), (f"uid=user2,{base}", 1)]


async def test_a_page_of_more_bytes_than_the_bound_is_refused(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(8), ou=ou)
    for person in people(8):
        modify(slapd_server, f"uid={person.uid},{base}", {"description": ["d" * 20_000]})
    bounded = source(slapd_server.url, base, secrets_dir, policy=NOTES, max_response_bytes=100_000)

    with pytest.raises(SourceUnavailable, match="more than 100000 bytes for one request; refused"):
        await bounded.fetch(None, None)

    # Smaller pages stay under it, and the same directory reads whole.
    bounded = source(
        slapd_server.url, base, secrets_dir, policy=NOTES, max_response_bytes=100_000, page_size=3
    )
    pages = await read_all(bounded)
    assert sum(len(p.contacts) for p in pages) == 8


async def test_an_entry_of_more_bytes_than_the_bound_is_refused(
    slapd_server: SlapdServer, ou: str, secrets_dir: Path
) -> None:
    base = slapd_server.add_people(people(3), ou=ou)
    modify(slapd_server, f"uid=user1,{base}", {"description": ["d" * 300_000]})
    adapter = source(slapd_server.url, base, secrets_dir, policy=NOTES, max_entry_bytes=100_000)

    with pytest.raises(
        SourceUnavailable, match=r"a message of \d+ bytes, more than 100000 .*; refused"
    ) as error:
        await adapter.fetch(None, None)

    assert "d" * 100 not in str(error.value)
    # The adapter starts over on the next run; under the default bounds the entry is read.
    with pytest.raises(SourceUnavailable):
        await adapter.fetch(None, None)
    [page] = await read_all(source(slapd_server.url, base, secrets_dir, policy=NOTES))
    assert sorted(len(c.fields.get(F.NOTE, "")) for c in page.contacts) == [0, 0, 300_000]
