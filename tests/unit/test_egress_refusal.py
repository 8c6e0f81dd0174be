"""Workers check every address a host resolves to against their region's egress policy before
they connect. The decision is a table; the HTTP tests talk to a loopback server in a thread, so
"refused before connecting" means the server saw nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactsync_api.egress import RegionEgress
from contactsync_worker.egress import refusal
from contactsync_worker.failures import reported
from contactsync_worker.main import check_temporal_egress
from contactsync_worker.settings import WorkerConfigError, WorkerSettings
from contactsync_worker.transport import (
    EgressRefused,
    InsecureTransportError,
    check_egress_now,
    check_egress_postgres,
    http_client,
)
from tests.carddav_sync import region_config
from tests.servers.https import HttpsServer, Route, running_https_server

PUBLIC = RegionEgress.model_validate(
    {
        "policies": ["public"],
        "allow": [
            {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16"]},
            {"cidr": "10.20.0.0/16", "ports": [636]},
        ],
    }
)
LOOPBACK = RegionEgress.model_validate(
    {"policies": ["loopback"], "allow": [{"cidr": "127.0.0.1/32"}]}
)
METADATA = RegionEgress.model_validate(
    {"policies": ["meta"], "allow": [{"cidr": "169.254.169.254/32"}], "allowLinkLocal": True}
)
NOTHING = RegionEgress(policies=[], allow=[])


@pytest.mark.parametrize(
    ("address", "port", "egress", "allowed"),
    [
        ("203.0.113.7", 443, PUBLIC, True),
        ("10.1.2.3", 443, PUBLIC, False),  # excepted
        ("127.0.0.1", 443, PUBLIC, False),
        ("10.20.1.1", 636, PUBLIC, True),  # a block with ports of its own
        ("10.20.1.1", 389, PUBLIC, False),
        ("2001:db8::1", 443, PUBLIC, False),  # no IPv6 block
        ("::ffff:10.1.2.3", 443, PUBLIC, False),  # an IPv4-mapped address is judged as IPv4
        ("127.0.0.1", 5232, LOOPBACK, True),
        ("203.0.113.7", 443, NOTHING, False),
        ("169.254.169.254", 80, METADATA, True),
        ("169.254.169.253", 80, METADATA, False),  # link-local allowed, but not this block
        ("203.0.113.7", 443, None, True),  # no policy: unrestricted but for link-local
        ("169.254.169.254", 80, None, False),
        ("::ffff:169.254.169.254", 80, None, False),
        ("fe80::1%eth0", 443, None, False),
        ("fd00:ec2::254", 80, None, False),
    ],
)
def test_an_address_is_allowed_only_by_a_block_of_the_policy(
    address: str, port: int, egress: RegionEgress | None, allowed: bool
) -> None:
    assert (refusal("host.example", address, port, egress) is None) is allowed


def test_link_local_is_refused_even_inside_an_allowed_block_without_the_opt_in() -> None:
    wide = RegionEgress.model_validate({"policies": ["wide"], "allow": [{"cidr": "0.0.0.0/0"}]})
    why = refusal("metadata.internal", "169.254.169.254", 80, wide)
    assert why is not None
    assert "link-local" in why
    assert "ContactSyncEgressPolicy wide does not set allowLinkLocal" in why


def test_the_refusal_names_the_host_the_address_and_the_policy() -> None:
    why = refusal("db.internal", "10.1.2.3", 5432, PUBLIC)
    assert why == (
        "egress to db.internal (10.1.2.3) port 5432 refused: outside what "
        "ContactSyncEgressPolicy public allows"
    )
    none = refusal("dav.example", "203.0.113.7", 443, NOTHING)
    assert none == (
        "egress to dav.example (203.0.113.7) port 443 refused: no ContactSyncEgressPolicy "
        "selects this namespace"
    )


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsServer]:
    with running_https_server(tmp_path_factory.mktemp("http"), tls=False) as server:
        server.routes["/book.csv"] = Route(body=b"fullName\n")
        yield server


async def test_a_server_outside_the_policy_is_refused_before_any_request(
    http_server: HttpsServer,
) -> None:
    url = f"{http_server.url}/book.csv"
    async with http_client(url, allow_insecure=True, ca_bundle=None, egress=PUBLIC) as client:
        with pytest.raises(EgressRefused, match="ContactSyncEgressPolicy public"):
            await client.get(url)
    assert http_server.received("/book.csv") == []
    async with http_client(url, allow_insecure=True, ca_bundle=None, egress=LOOPBACK) as client:
        assert (await client.get(url)).status_code == 200
    assert len(http_server.received("/book.csv")) == 1


async def test_a_redirect_out_of_the_policy_is_refused(http_server: HttpsServer) -> None:
    http_server.routes["/elsewhere"] = Route(
        status=302, headers={"Location": "http://10.1.2.3/book.csv"}
    )
    url = f"{http_server.url}/elsewhere"
    async with http_client(url, allow_insecure=True, ca_bundle=None, egress=LOOPBACK) as client:
        with pytest.raises(EgressRefused, match=r"egress to 10\.1\.2\.3 port 80 refused"):
            await client.get(url)


def test_ldap_hosts_are_checked_with_their_port() -> None:
    with pytest.raises(InsecureTransportError, match="port 389"):
        check_egress_now("127.0.0.1", 389, PUBLIC)
    check_egress_now("127.0.0.1", 389, LOOPBACK)


async def test_every_host_of_a_connection_string_is_checked() -> None:
    dsn = "host=127.0.0.1,10.20.1.1 port=5432,636 user=u"
    both = PUBLIC.model_copy(update={"allow": [*PUBLIC.allow, *LOOPBACK.allow]})
    await check_egress_postgres(dsn, both)
    with pytest.raises(EgressRefused, match=r"10\.20\.1\.1 port 5432"):
        await check_egress_postgres("host=10.20.1.1 port=5432", PUBLIC)


def worker_settings(temporal_address: str, **region: Any) -> WorkerSettings:
    config = region_config(
        "https://dav.example/a/",
        "https://dav.example/b/",
        region={"name": "local", **region},
        egress=PUBLIC.model_dump(by_alias=True),
    )
    return WorkerSettings(
        region="local",
        task_queue="q",
        config=config,
        keys_dir=None,
        secrets_dir=Path("/nonexistent"),
        state_dir=Path("/nonexistent"),
        metrics_port=0,
        temporal_address=temporal_address,
        temporal_namespace="default",
    )


async def test_a_temporal_frontend_the_region_names_is_held_to_the_policy() -> None:
    named = worker_settings("10.1.2.3:7233", temporal={"address": "10.1.2.3:7233"})
    refused = r"Temporal frontend: egress to 10\.1\.2\.3 port 7233"
    with pytest.raises(WorkerConfigError, match=refused):
        await check_temporal_egress(named)
    # The operator's own frontend is the platform's choice, wherever it is.
    await check_temporal_egress(worker_settings("10.1.2.3:7233"))


def test_a_refusal_is_logged_once_by_the_worker_itself(caplog: pytest.LogCaptureFixture) -> None:
    """The SDK's record of a failed activity keeps only the error's type (contactsync_worker
    .logs): the worker's own record, written where the activity hands the refusal to
    Temporal, is where an operator reads which host and policy."""
    with caplog.at_level("INFO"), pytest.raises(EgressRefused) as refused:
        check_egress_now("127.0.0.1", 389, PUBLIC)
    assert caplog.records == [], "nothing is logged where the refusal is raised"
    with caplog.at_level("INFO"):
        reported(refused.value, "page of source directory")
    [line] = caplog.records
    assert "egress to 127.0.0.1 port 389 refused" in line.getMessage()
    assert line.levelname == "WARNING"
