"""PostgreSQL connections are TLS with the server verified, whatever the DSN leaves out:
libpq's default (sslmode=prefer) would send the password to a server that declines TLS.
Real servers: one that declines TLS, one with a certificate from a CA of its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from contactsync_api.errors import DestinationUnavailable, StoreUnavailable
from contactsync_worker.destinations.postgres import PostgresDestination
from contactsync_worker.main import open_store
from contactsync_worker.store.postgres import PostgresStore
from contactsync_worker.transport import InsecureTransportError, postgres_conninfo
from tests.carddav_sync import region_config
from tests.servers.postgres import PostgresServer, running_postgres
from tests.worker_env import WorkerFiles

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def plain_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A server that declines TLS, with connections logged."""
    with running_postgres(tmp_path_factory.mktemp("postgres-plain"), tls=False) as server:
        yield server


def as_users_write_it(server: PostgresServer, **extra: str) -> str:
    """A DSN as users write it: host, port, credentials, nothing about TLS."""
    return make_conninfo(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname=server.dbname,
        **extra,
    )


async def test_a_server_that_declines_tls_is_refused_by_the_destination_and_the_store(
    plain_postgres: PostgresServer,
) -> None:
    conninfo = postgres_conninfo(
        as_users_write_it(plain_postgres), allow_insecure=False, ca_bundle=None
    )
    destination = PostgresDestination(conninfo)
    with pytest.raises(DestinationUnavailable) as refused:
        await destination.count()
    assert "SSL" in str(refused.value.__cause__)
    assert plain_postgres.password not in str(refused.value)
    with pytest.raises(StoreUnavailable) as store_refused:
        await PostgresStore.open(conninfo)
    assert "SSL" in str(store_refused.value.__cause__)


@pytest.mark.parametrize("allow_insecure", [False, True])
async def test_the_worker_opens_its_store_only_over_tls_unless_the_spec_allows_otherwise(
    plain_postgres: PostgresServer, tmp_path: Path, allow_insecure: bool
) -> None:
    """The path a worker pod takes: the region's store spec and its DSN Secret."""
    postgres: dict[str, object] = {"dsnSecretRef": {"name": "pg", "key": "dsn"}}
    if allow_insecure:
        postgres["allowInsecure"] = True
    store = {"postgres": postgres}
    config = region_config("http://dav.invalid/a/", "http://dav.invalid/b/")
    config = config.model_validate(
        {**config.model_dump(by_alias=True), "region": {"name": "local", "store": store}}
    )
    files = WorkerFiles(tmp_path, config, task_queue="q", temporal_address="127.0.0.1:1")
    files.write_secret("pg", {"dsn": as_users_write_it(plain_postgres)})
    files.add_key("k0001")
    if not allow_insecure:
        with pytest.raises(StoreUnavailable):
            await open_store(files.settings(0))
        return
    opened = await open_store(files.settings(0))
    await opened.aclose()


async def test_allow_insecure_uses_the_dsn_as_given(plain_postgres: PostgresServer) -> None:
    """The same server is reachable: the refusal above is the TLS policy, nothing else."""
    dsn = as_users_write_it(plain_postgres)
    destination = PostgresDestination(postgres_conninfo(dsn, allow_insecure=True, ca_bundle=None))
    try:
        assert await destination.count() == 0
    finally:
        await destination.aclose()


@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", "require", "verify-ca"])
def test_a_dsn_asking_for_less_than_verify_full_is_refused_before_connecting(mode: str) -> None:
    dsn = make_conninfo(host="db.example", user="u", password="s3cret-pw", sslmode=mode)
    with pytest.raises(InsecureTransportError) as refused:
        postgres_conninfo(dsn, allow_insecure=False, ca_bundle=None)
    assert f"sslmode={mode}" in str(refused.value)
    assert "allowInsecure" in str(refused.value)
    assert "s3cret-pw" not in str(refused.value)


async def test_the_server_certificate_is_verified_against_the_ca_bundle(
    postgres_server: PostgresServer,
) -> None:
    assert postgres_server.ca_file is not None
    dsn = as_users_write_it(postgres_server)
    # The image's system CAs did not sign the test server's certificate.
    untrusted = PostgresDestination(postgres_conninfo(dsn, allow_insecure=False, ca_bundle=None))
    with pytest.raises(DestinationUnavailable) as refused:
        await untrusted.count()
    assert "certificate verify failed" in str(refused.value.__cause__)
    trusted = PostgresDestination(
        postgres_conninfo(dsn, allow_insecure=False, ca_bundle=Path(postgres_server.ca_file)),
        schema="tls_check",
    )
    try:
        assert await trusted.count() == 0
    finally:
        await trusted.aclose()


async def test_a_database_at_a_link_local_address_is_refused_before_connecting() -> None:
    """Instance metadata answers on link-local addresses; no DSN may point a worker there."""
    dsn = "host=db.invalid,169.254.169.254 port=5432,5432 user=u password=pw"
    destination = PostgresDestination(postgres_conninfo(dsn, allow_insecure=True, ca_bundle=None))
    with pytest.raises(InsecureTransportError, match="link-local"):
        await destination.count()
