"""Directories read through LDAP presets into PostgreSQL: an inetOrgPerson tree, and entries
shaped like Active Directory users. Real worker, Temporal dev server, slapd, PostgreSQL.

AD's schema does not load into slapd, so the AD-shaped entries are inetOrgPersons with the
auxiliary class of ``tests/servers/ad_user.schema``, which adds the AD attributes
OpenLDAP lacks (company, department, otherMobile, wWWHomePage, ...) under AD's names;
streetAddress, l, st, postalCode, co and info are the standard attributes AD shares.
A directory none of whose entries holds an attribute the mapping reads fails the source,
naming attributes only.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row

from contactsync_api.endpoints.ldap import LdapSourceSpec
from contactsync_api.errors import SourceUnavailable
from contactsync_api.fields import ContactField as F
from contactsync_api.spec import RegionConfig
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.sources.ldap import LdapSource
from tests.carddav_sync import sync
from tests.servers.postgres import PostgresServer
from tests.servers.process import free_port
from tests.servers.slapd import SlapdServer
from tests.servers.temporal import TemporalDevServer
from tests.worker_env import WorkerFiles, running_worker

pytestmark = [pytest.mark.ldap, pytest.mark.postgres, pytest.mark.temporal]
FIELDS = ["fullName", "emails", "phones", "addresses", "organization", "department", "note"]
AD_USER = ["inetOrgPerson", "contactSyncTestADUser"]


def add_entries(ldap: SlapdServer, entries: dict[str, tuple[list[str], dict[str, Any]]]) -> str:
    """A fresh ou holding ``entries`` (rdn → object classes, attributes); its DN."""
    ou = f"m-{uuid.uuid4().hex[:10]}"
    ou_dn = f"ou={ou},{ldap.base_dn}"
    conn = ldap.connect()
    try:
        assert conn.add(ou_dn, ["organizationalUnit"], {"ou": ou}), conn.result
        for rdn, (classes, attributes) in entries.items():
            assert conn.add(f"{rdn},{ou_dn}", classes, attributes), conn.result
    finally:
        conn.unbind()
    return ou_dn


def region(ldap: SlapdServer, base_dn: str, mapping: dict[str, Any], table: str) -> RegionConfig:
    return RegionConfig.model_validate(
        {
            "contactSync": "tests/phonebook",
            "region": {"name": "local"},
            "sources": [
                {
                    "name": "directory",
                    "region": "local",
                    "ldap": {
                        "url": ldap.url,
                        "baseDN": base_dn,
                        "filter": "(objectClass=inetOrgPerson)",
                        "allowInsecure": True,
                        "credentialsSecretRef": {"name": "ldap-bind"},
                        "mapping": mapping,
                    },
                }
            ],
            "destinations": [
                {
                    "name": "db",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                }
            ],
            "fields": FIELDS,
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


async def synced_rows(
    root: Path,
    config: RegionConfig,
    ldap: SlapdServer,
    temporal: TemporalDevServer,
    postgres: PostgresServer,
) -> dict[str, dict[str, Any]]:
    files = WorkerFiles(
        root, config, task_queue=f"ldap-{uuid.uuid4().hex[:8]}", temporal_address=temporal.address
    )
    files.add_key("k0001")
    files.write_secret("pg", {"dsn": postgres.dsn})
    files.write_secret("ldap-bind", {"bindDN": ldap.bind_dn, "password": ldap.password})
    async with running_worker(files, free_port()):
        summary = await sync(files)
    assert summary.quarantined == 0
    table = config.destinations[0].postgres.table  # type: ignore[union-attr]
    query = sql.SQL(
        "SELECT full_name, emails_typed, phones_typed, addresses_typed, organization, "
        "department, note FROM {}"
    ).format(sql.Identifier("public", table))
    with psycopg.connect(postgres.dsn, row_factory=dict_row) as db:
        return {r["full_name"]: r for r in db.execute(query).fetchall()}


def typed(value: str, *types: str) -> dict[str, Any]:
    return {"value": value, "types": list(types), "pref": None, "label": None}


async def test_an_inet_org_person_tree_arrives_through_its_preset_with_an_override(
    tmp_path: Path,
    slapd_server: SlapdServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    base = add_entries(
        slapd_server,
        {
            "uid=ada": (
                ["inetOrgPerson"],
                {
                    "uid": "ada",
                    "cn": "Ada Lovelace",
                    "sn": "Lovelace",
                    "displayName": "Ada King, Countess of Lovelace",
                    "mail": "ada@example.org",
                    "telephoneNumber": "+44 20 7946 0100",
                    "mobile": "+44 7700 900100",
                    "o": "Analytical Engines",
                    "ou": "Research",
                    "postalAddress": "12 St James's Square$London",
                    "roomNumber": "R-12",
                },
            )
        },
    )
    mapping = {
        "preset": "inetorgperson",
        # This directory keeps the desk in roomNumber, and ou is not a department here.
        "entries": [{"name": "roomNumber", "field": "note"}, {"name": "ou", "field": "title"}],
    }
    table = f"inet_{uuid.uuid4().hex[:8]}"
    people = await synced_rows(
        tmp_path,
        region(slapd_server, base, mapping, table),
        slapd_server,
        temporal_server,
        postgres_server,
    )
    ada = people["Ada King, Countess of Lovelace"]
    assert ada["emails_typed"] == [typed("ada@example.org", "work")]
    assert ada["phones_typed"] == [
        typed("+44 20 7946 0100", "voice", "work"),
        typed("+44 7700 900100", "cell"),
    ]
    assert ada["addresses_typed"] == [typed(";;12 St James's Square\\nLondon;;;;", "work")]
    assert (ada["organization"], ada["department"], ada["note"]) == (
        "Analytical Engines",
        None,
        "R-12",
    )


async def test_active_directory_shaped_users_arrive_through_the_active_directory_preset(
    tmp_path: Path,
    slapd_server: SlapdServer,
    postgres_server: PostgresServer,
    temporal_server: TemporalDevServer,
) -> None:
    base = add_entries(
        slapd_server,
        {
            "cn=Margaret Hamilton": (
                AD_USER,
                {
                    "cn": "Margaret Hamilton",
                    "sn": "Hamilton",
                    "givenName": "Margaret",
                    "displayName": "Margaret Hamilton",
                    "sAMAccountName": "mhamilton",
                    "mail": "margaret@mit.example",
                    "telephoneNumber": "+1 617 555 0100",
                    "otherMobile": ["+1 617 555 0101", "+1 617 555 0102"],
                    "company": "MIT",
                    "department": "Instrumentation Lab",
                    "streetAddress": "75 Cambridge Pkwy",
                    "l": "Cambridge",
                    "st": "MA",
                    "postalCode": "02142",
                    "co": "United States",
                    "info": "Apollo guidance",
                    "o": "not read by the AD preset",
                },
            ),
            "cn=Katherine Johnson": (
                AD_USER,
                {
                    "cn": "Katherine Johnson",
                    "sn": "Johnson",
                    "mail": "katherine@nasa.example",
                    "mobile": "+1 757 555 0142",
                    "company": "NASA",
                },
            ),
        },
    )
    table = f"ad_{uuid.uuid4().hex[:8]}"
    people = await synced_rows(
        tmp_path,
        region(slapd_server, base, {"preset": "active-directory"}, table),
        slapd_server,
        temporal_server,
        postgres_server,
    )
    assert set(people) == {"Margaret Hamilton", "Katherine Johnson"}
    margaret = people["Margaret Hamilton"]
    assert margaret["emails_typed"] == [typed("margaret@mit.example", "work")]
    assert margaret["phones_typed"] == [
        typed("+1 617 555 0100", "voice", "work"),
        typed("+1 617 555 0101", "cell"),
        typed("+1 617 555 0102", "cell"),
    ]
    assert margaret["addresses_typed"] == [
        typed(";;75 Cambridge Pkwy;Cambridge;MA;02142;United States", "work")
    ]
    assert (margaret["organization"], margaret["department"], margaret["note"]) == (
        "MIT",
        "Instrumentation Lab",
        "Apollo guidance",
    )
    katherine = people["Katherine Johnson"]
    assert katherine["phones_typed"] == [typed("+1 757 555 0142", "cell")]
    assert katherine["organization"] == "NASA"


async def test_a_directory_without_the_mappings_attributes_fails_naming_attributes(
    tmp_path: Path, slapd_server: SlapdServer
) -> None:
    # inetOrgPersons read with the AD preset for fields only AD's attributes hold.
    base = add_entries(
        slapd_server,
        {
            "uid=ada": (
                ["inetOrgPerson"],
                {"uid": "ada", "cn": "Ada", "sn": "Lovelace", "o": "Engines", "ou": "Research"},
            )
        },
    )
    secrets = tmp_path / "secrets" / "ldap-bind"
    secrets.mkdir(parents=True)
    (secrets / "bindDN").write_text(slapd_server.bind_dn)
    (secrets / "password").write_text(slapd_server.password)
    spec = LdapSourceSpec.model_validate(
        {
            "url": slapd_server.url,
            "baseDN": base,
            "allowInsecure": True,
            "credentialsSecretRef": {"name": "ldap-bind"},
            "mapping": {"preset": "active-directory"},
        }
    )
    policy = FieldPolicy(frozenset({F.ORGANIZATION, F.DEPARTMENT}), identity=())
    source = LdapSource("directory", spec, policy, secrets_dir=tmp_path / "secrets")
    try:
        with pytest.raises(SourceUnavailable) as failed:
            await source.fetch(None, None)
    finally:
        await source.aclose()
    message = str(failed.value)
    assert "none of the 1 entries of the first page has an attribute" in message
    assert "they hold entryUUID, uid" in message
    assert "the mapping reads company, department" in message
    assert "Engines" not in message
    assert "ada" not in message
