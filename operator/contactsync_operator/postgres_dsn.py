"""The ports a PostgreSQL connection string names, for a region's NetworkPolicy.

libpq reads both URIs and ``key=value`` strings, with several hosts and ports; its own parser
(psycopg's ``conninfo_to_dict``) reads them as the worker will. Only the ports leave here.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict

DEFAULT_PORT = 5432


def dsn_ports(dsn: bytes) -> set[int]:
    """The ports ``dsn`` dials; none when it cannot be read (the worker reports that)."""
    try:
        params = conninfo_to_dict(dsn.decode())
    except (UnicodeDecodeError, psycopg.ProgrammingError):
        return set()
    ports = str(params.get("port") or DEFAULT_PORT).split(",")
    return {int(port) for port in ports if port.strip().isdigit()}
