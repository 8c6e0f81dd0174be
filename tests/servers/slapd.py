"""A real OpenLDAP slapd on loopback, with its config and mdb database in a temp dir."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import ldap3

from tests.servers.process import ManagedProcess, free_port, wait_until
from tests.servers.toolchain import on_path

BASE_DN = "dc=contactsync,dc=test"
BIND_DN = f"cn=admin,{BASE_DN}"
PASSWORD = "slapd-test-password"

_SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
# Entries shaped like Active Directory users (auxiliary class contactSyncTestADUser).
AD_USER_SCHEMA = Path(__file__).with_name("ad_user.schema")

# slapd.conf is deprecated in favour of cn=config, but slapd 2.5 still reads it and it
# keeps the whole server on one page; nothing here needs online reconfiguration.
_CONFIG = """\
{includes}
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb

database {backend}
suffix "{base_dn}"
rootdn "{bind_dn}"
rootpw {password_hash}
directory {datadir}
{backend_options}
"""
# back-ldif keeps an entry per file and supports no paged results: it ignores the
# (non-critical) control and answers a paged search whole, as some real servers do.
_BACKEND_OPTIONS = {"mdb": "index objectClass eq", "ldif": ""}
# stats (256): one line per operation; args (4) adds each search's size and time limits.
STATS = 256
STATS_AND_ARGS = 256 | 4


class LdapError(RuntimeError):
    """slapd refused a write the fixture needed; the message carries its result."""


@dataclass(frozen=True)
class LdapPerson:
    """One inetOrgPerson to seed."""

    uid: str
    given_name: str
    surname: str
    mail: str


@dataclass(frozen=True)
class SlapdServer:
    """Where a running slapd listens and how to bind to it as the directory admin."""

    url: str
    base_dn: str
    bind_dn: str
    password: str
    process: ManagedProcess

    def connect(self) -> ldap3.Connection:
        """A connection bound as the admin with a simple bind; unbind it when done."""
        return ldap3.Connection(
            ldap3.Server(self.url, connect_timeout=5),
            user=self.bind_dn,
            password=self.password,
            auto_bind=True,
            receive_timeout=10,
        )

    def add_people(self, people: Iterable[LdapPerson], ou: str = "people") -> str:
        """Add ``ou=<ou>`` under the base (if missing) and the people in it; return the ou DN."""
        ou_dn = f"ou={ou},{self.base_dn}"
        conn = self.connect()
        try:
            if not conn.search(ou_dn, "(objectClass=*)", search_scope=ldap3.BASE):
                _add(conn, ou_dn, ["organizationalUnit"], {"ou": ou})
            for person in people:
                attributes = {
                    "uid": person.uid,
                    "cn": f"{person.given_name} {person.surname}",
                    "givenName": person.given_name,
                    "sn": person.surname,
                    "mail": person.mail,
                }
                _add(conn, f"uid={person.uid},{ou_dn}", ["inetOrgPerson"], attributes)
        finally:
            conn.unbind()
        return ou_dn


def _add(conn: ldap3.Connection, dn: str, classes: list[str], attributes: dict[str, str]) -> None:
    if not conn.add(dn, classes, attributes):
        raise LdapError(f"add {dn}: {conn.result}")


def _hash_password(password: str) -> str:
    # A salted hash, as a real directory would store it, rather than cleartext in the config.
    slappasswd = on_path("slappasswd", "/usr/sbin")
    result = subprocess.run(
        [str(slappasswd), "-s", password], check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def _can_bind(server: SlapdServer) -> bool:
    server.connect().unbind()
    return True


@contextmanager
def running_slapd(
    workdir: Path, *, backend: str = "mdb", log_level: int = STATS
) -> Iterator[SlapdServer]:
    """Start slapd with its state under ``workdir`` and a base entry; stop it when done.

    ``backend`` is ``mdb`` (the usual) or ``ldif`` (a server that does not page)."""
    slapd = on_path("slapd", "/usr/sbin")
    datadir = workdir / "data"
    datadir.mkdir(mode=0o700)
    config = workdir / "slapd.conf"
    config.write_text(
        _CONFIG.format(
            includes="\n".join(
                [f"include /etc/ldap/schema/{name}.schema" for name in _SCHEMAS]
                + [f"include {AD_USER_SCHEMA}"]
            ),
            workdir=workdir,
            base_dn=BASE_DN,
            bind_dn=BIND_DN,
            password_hash=_hash_password(PASSWORD),
            datadir=datadir,
            backend=backend,
            backend_options=_BACKEND_OPTIONS[backend],
        )
    )
    url = f"ldap://127.0.0.1:{free_port()}"
    # Any -d keeps slapd in the foreground so ManagedProcess owns it; 256 (stats) logs
    # config errors and one line per operation, which is what a failing test needs.
    process = ManagedProcess(
        name="slapd",
        argv=[str(slapd), "-f", str(config), "-h", url, "-d", str(log_level)],
        log_path=workdir / "slapd.log",
        cwd=workdir,
    ).start()
    try:
        server = SlapdServer(url, BASE_DN, BIND_DN, PASSWORD, process)
        # slapd binds its port before it reads its config, so an open port proves
        # nothing: wait for a bind to succeed.
        wait_until(lambda: _can_bind(server), timeout=30, what="slapd", process=process)
        conn = server.connect()
        try:
            _add(
                conn,
                BASE_DN,
                ["dcObject", "organization"],
                {"dc": "contactsync", "o": "ContactSync test"},
            )
        finally:
            conn.unbind()
        yield server
    finally:
        process.stop()
