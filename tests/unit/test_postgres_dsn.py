"""The operator opens a region's NetworkPolicy to the ports its PostgreSQL DSNs name."""

from __future__ import annotations

import pytest

from contactsync_operator.postgres_dsn import dsn_ports


@pytest.mark.parametrize(
    ("dsn", "ports"),
    [
        (b"postgresql://sync@db.example.org:6432/contacts", {6432}),
        (b"postgresql://sync@db.example.org/contacts", {5432}),
        (b"host=a.example.org,b.example.org port=5433,5434 dbname=contacts", {5433, 5434}),
        (b"host=db.example.org dbname=contacts", {5432}),
    ],
)
def test_the_ports_of_a_dsn_are_read_as_libpq_reads_them(dsn: bytes, ports: set[int]) -> None:
    assert dsn_ports(dsn) == ports


@pytest.mark.parametrize("dsn", [b"\xff\xfe not text", b"host='unterminated"])
def test_a_dsn_that_cannot_be_read_opens_no_port(dsn: bytes) -> None:
    assert dsn_ports(dsn) == set()
