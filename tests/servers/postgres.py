"""A real PostgreSQL server on loopback: initdb in a temp dir, a free port, a password role."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.servers.pki import CertPair, issue, make_ca
from tests.servers.process import (
    ManagedProcess,
    ServerStartError,
    free_port,
    wait_until,
)
from tests.servers.toolchain import MissingToolError, on_path

HOST = "127.0.0.1"
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "postgres-admin-test-password"
USER = "contactsync"
PASSWORD = "postgres-test-password"
DBNAME = "contactsync"
# PostgreSQL refuses to run as root; this is the account Debian's package creates.
SERVICE_ACCOUNT = "postgres"

# Test data is disposable, so skip the durability work that makes commits slow.
_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


@dataclass(frozen=True)
class PostgresServer:
    """Where a running PostgreSQL listens and the test role's credentials."""

    host: str
    port: int
    user: str
    password: str
    dbname: str
    process: ManagedProcess
    # The CA that signed the server's certificate; None when the server runs without TLS.
    ca_file: Path | None = None

    @property
    def dsn(self) -> str:
        """The test role's connection string, with verified TLS when the server has it."""
        tls = {"sslmode": "verify-full", "sslrootcert": str(self.ca_file)} if self.ca_file else {}
        return make_conninfo(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            **tls,
        )

    def login_role(self, role: str, password: str) -> str:
        """Create ``role``, or change its password, with the right to create schemas in the
        test database; return its connection string (as ``dsn`` builds it)."""
        with psycopg.connect(_superuser_conninfo(self.port), autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if found else "CREATE"
            conn.execute(
                sql.SQL(f"{verb} ROLE {{}} LOGIN PASSWORD {{}}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
            conn.execute(
                sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                    sql.Identifier(self.dbname), sql.Identifier(role)
                )
            )
        return make_conninfo(self.dsn, user=role, password=password)


def postgres_bin_dir() -> Path:
    """The bin dir of the newest PostgreSQL major under /usr/lib/postgresql, else PATH."""
    majors = [
        path.parent
        for path in Path("/usr/lib/postgresql").glob("*/bin/postgres")
        if path.parent.parent.name.isdigit()
    ]
    if majors:
        return max(majors, key=lambda bindir: int(bindir.parent.name))
    return on_path("postgres").parent


def _run_as_prefix() -> list[str]:
    """Commands run as root must drop to the service account; others run as they are."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVICE_ACCOUNT)
    except KeyError:
        raise MissingToolError(
            f"no '{SERVICE_ACCOUNT}' user to run PostgreSQL as non-root: install postgresql"
        ) from None
    # setpriv execs in place (runuser forks), so the pid we signal is the postmaster.
    setpriv = on_path("setpriv")
    return [
        str(setpriv),
        f"--reuid={SERVICE_ACCOUNT}",
        f"--regid={SERVICE_ACCOUNT}",
        "--init-groups",
        # Linux clears the parent-death signal when credentials change; setpriv sets it again
        # after the switch, so a killed test run takes the postmaster with it.
        "--pdeathsig=KILL",
    ]


def _give_to_service_account(*paths: Path) -> None:
    if os.geteuid() != 0:
        return
    account = pwd.getpwnam(SERVICE_ACCOUNT)
    for path in paths:
        os.chown(path, account.pw_uid, account.pw_gid)


def _initdb(bindir: Path, prefix: list[str], root: Path, datadir: Path) -> None:
    pwfile = root / "pwfile"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    pwfile.chmod(0o600)
    _give_to_service_account(pwfile)
    argv = [
        *prefix,
        str(bindir / "initdb"),
        f"--pgdata={datadir}",
        f"--username={SUPERUSER}",
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]
    result = subprocess.run(argv, cwd=root, capture_output=True, text=True, check=False)
    pwfile.unlink()
    if result.returncode != 0:
        raise ServerStartError(
            f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _superuser_conninfo(port: int) -> str:
    return make_conninfo(
        host=HOST, port=port, user=SUPERUSER, password=SUPERUSER_PASSWORD, dbname="postgres"
    )


def _can_connect(conninfo: str) -> bool:
    with psycopg.connect(conninfo, connect_timeout=2):
        return True


def _create_role_and_database(port: int) -> None:
    with psycopg.connect(_superuser_conninfo(port), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(USER), sql.Literal(PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DBNAME), sql.Identifier(USER)
            )
        )


def _stop(process: ManagedProcess) -> None:
    if not process.exited():
        # SIGINT is "fast" shutdown; SIGTERM ("smart") would wait for every client
        # a test left connected.
        os.kill(process.pid, signal.SIGINT)
        with contextlib.suppress(ServerStartError):
            wait_until(process.exited, timeout=15, what="postgres shutdown")
    process.stop()


def _server_certificate(root: Path) -> tuple[CertPair, CertPair]:
    """A CA and the server's certificate for 127.0.0.1 and localhost, readable by the server."""
    ca = make_ca(root, "contactsync-test-postgres-ca")
    server = issue(ca, root, "server", HOST, server_names=(HOST, "localhost"))
    _give_to_service_account(server.cert, server.key)
    return ca, server


@contextmanager
def running_postgres(workdir: Path, *, tls: bool = True) -> Iterator[PostgresServer]:
    """initdb, start PostgreSQL, create the test role and database; stop and clean up after.
    With ``tls`` (as production should run it) the server offers TLS with a certificate from a
    CA of its own, and ``dsn`` verifies it; without, it declines TLS."""
    bindir = postgres_bin_dir()
    prefix = _run_as_prefix()
    # The service account must reach the data dir, but pytest keeps its temp tree 0700
    # for root; so the cluster lives in its own dir under the system temp dir.
    root = Path(tempfile.mkdtemp(prefix="contactsync-pg-"))
    try:
        datadir, sockets = root / "data", root / "sockets"
        sockets.mkdir(mode=0o700)
        _give_to_service_account(root, sockets)
        _initdb(bindir, prefix, root, datadir)
        port = free_port()
        ca: CertPair | None = None
        tls_settings: tuple[str, ...] = ("ssl=off",)
        if tls:
            ca, server = _server_certificate(root)
            tls_settings = ("ssl=on", f"ssl_cert_file={server.cert}", f"ssl_key_file={server.key}")
        settings = [arg for setting in (*_FAST_SETTINGS, *tls_settings) for arg in ("-c", setting)]
        process = ManagedProcess(
            name="postgres",
            argv=[
                *prefix,
                str(bindir / "postgres"),
                *("-D", str(datadir), "-k", str(sockets), "-h", HOST, "-p", str(port)),
                *settings,
            ],
            log_path=workdir / "postgres.log",
            cwd=root,
        ).start()
        try:
            wait_until(
                lambda: _can_connect(_superuser_conninfo(port)),
                timeout=60,
                what="postgres",
                process=process,
            )
            _create_role_and_database(port)
            yield PostgresServer(
                HOST, port, USER, PASSWORD, DBNAME, process, ca.cert if ca else None
            )
        finally:
            _stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)
