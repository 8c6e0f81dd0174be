"""Session fixtures for the data servers: each starts on first use and stops at session end.

Load with ``pytest_plugins = ["tests.servers.data_fixtures"]`` in the root conftest.
A missing binary raises ``MissingToolError``, so the test errors instead of skipping:
a suite that silently skips its integration tests proves nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.servers.postgres import PostgresServer, running_postgres
from tests.servers.radicale import RadicaleServer, running_radicale
from tests.servers.slapd import SlapdServer, running_slapd


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadicaleServer]:
    with running_radicale(tmp_path_factory.mktemp("radicale")) as server:
        yield server


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    with running_slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with running_postgres(tmp_path_factory.mktemp("postgres")) as server:
        yield server


@pytest.fixture
async def dav(radicale_server: RadicaleServer) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in to Radicale: the person or program that shares the books."""
    auth = (radicale_server.username, radicale_server.password)
    async with httpx.AsyncClient(auth=auth, timeout=10.0) as client:
        yield client
