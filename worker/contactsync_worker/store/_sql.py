"""What the shared store logic needs from a database: a transaction that runs SQL.

Queries are written once, as literal strings with ``?`` placeholders, in SQL that SQLite
(>= 3.35) and PostgreSQL both accept (ON CONFLICT … DO UPDATE, RETURNING). A list parameter
fills an IN list: ``item_id IN (?)`` with ``["a", "b"]`` runs as ``item_id IN (?, ?)``, so no
query is ever assembled from strings. Each backend adapts placeholders and time values;
only the chain lock differs, see :attr:`Tx.locks_rows`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

Param = str | int | bool | datetime | None
Params = Sequence[Param | list[str]]
Row = tuple[Any, ...]

# Rows per IN list: far below SQLite's variable limit (32766) and PostgreSQL's (65535),
# and one worker page fits in one statement.
CHUNK = 500


class Tx(Protocol):
    """One open transaction. Methods take ``?`` placeholders."""

    # True where the chain head must be read with SELECT … FOR UPDATE (PostgreSQL);
    # SQLite's write transactions already hold the database lock (BEGIN IMMEDIATE).
    locks_rows: bool

    async def execute(self, query: str, params: Params = ()) -> int:
        """Run one statement; returns the rows it changed."""
        ...

    async def executemany(self, query: str, rows: Sequence[Sequence[Param]]) -> None: ...

    async def fetchall(self, query: str, params: Params = ()) -> list[Row]: ...


def chunks(values: Collection[str], size: int = CHUNK) -> Iterator[list[str]]:
    """Distinct values in slices of ``size``, in a stable order."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def expand(query: str, params: Params, mark: str) -> tuple[str, list[Param]]:
    """The query with ``mark`` placeholders, one per value, list parameters spread out."""
    parts = query.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError(f"query has {len(parts) - 1} placeholders for {len(params)} parameters")
    text = [parts[0]]
    flat: list[Param] = []
    for param, part in zip(params, parts[1:], strict=True):
        if isinstance(param, list):
            text.append(", ".join([mark] * len(param)))
            flat += param
        else:
            text.append(mark)
            flat.append(param)
        text.append(part)
    return "".join(text), flat


def utc(value: object) -> datetime:
    """A stored time as an aware UTC datetime (SQLite returns text, PostgreSQL datetimes)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, str):
        return datetime.fromisoformat(value).astimezone(UTC)
    raise TypeError(f"not a stored time: {type(value).__name__}")


def utc_or_none(value: object) -> datetime | None:
    return None if value is None else utc(value)


def time_text(value: datetime) -> str:
    """How SQLite stores a time: fixed-width UTC ISO-8601, so text order is time order."""
    if value.tzinfo is None:
        raise ValueError("store times must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")
