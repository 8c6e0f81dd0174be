"""What the shared store logic needs from a database: a transaction that runs SQL.

Queries are written once, as literal strings with ``?`` placeholders, in SQL that SQLite
(>= 3.35) and PostgreSQL both accept (ON CONFLICT … DO UPDATE, RETURNING). A list parameter
fills an IN list: ``item_id IN (?)`` with ``["a", "b"]`` runs as ``item_id IN (?, ?)``, so no
query is ever assembled from strings. Each backend adapts placeholders and time values;
only the chain lock differs, see :attr:`Tx.locks_rows`.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

Param = str | int | bool | datetime | None
Params = Sequence[Param | list[str]]
Row = tuple[Any, ...]

# Rows per IN list: far below SQLite's variable limit (32766) and PostgreSQL's (65535),
# and one worker page fits in one statement.
CHUNK = 500
# Parameters per multi-row INSERT: under PostgreSQL's limit of 65535 a statement, and a
# worker page of any table in one statement.
MAX_PARAMS = 30_000
NUMBERED = "$"  # the mark that asks for numbered placeholders ($1, $2, …)
# "… item_id IN (" before a list parameter (never NOT IN: the store has none).
_IN_LIST = re.compile(r"(?<!NOT)\s+IN \($")
# The one row of an INSERT that executemany runs once per row: placeholders and literals.
_VALUES = re.compile(r"VALUES\s*\(([^()]*)\)")


class Tx(Protocol):
    """One open transaction. Methods take ``?`` placeholders."""

    # True where the chain head must be read with SELECT … FOR UPDATE (PostgreSQL);
    # SQLite's write transactions already hold the database lock (BEGIN IMMEDIATE).
    locks_rows: bool

    async def execute(self, query: str, params: Params = ()) -> int:
        """Run one statement; returns the rows it changed."""
        ...

    async def executemany(self, query: str, rows: Sequence[Sequence[Param]]) -> None:
        """Run an ``INSERT … VALUES (?, …)`` for each row; rows must have distinct conflict
        keys (a server runs them as one statement, see :func:`multirow`)."""
        ...

    async def fetchall(self, query: str, params: Params = ()) -> list[Row]: ...


def chunks(values: Collection[str], size: int = CHUNK) -> Iterator[list[str]]:
    """Distinct values in slices of ``size``, in a stable order."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def placeholders(mark: str) -> Iterator[str]:
    """``mark`` again and again, or with :data:`NUMBERED` ``$1``, ``$2``, … (PostgreSQL's own)."""
    if mark == NUMBERED:
        return (f"${n}" for n in itertools.count(1))
    return itertools.repeat(mark)


def expand(
    query: str, params: Params, mark: str, *, arrays: bool = False
) -> tuple[str, list[Param | list[str]]]:
    """The query with ``mark`` placeholders, one per value, list parameters spread out.

    ``arrays``: a list that fills ``IN (?)`` is passed whole as one array instead, as
    ``= ANY(?)`` (PostgreSQL). The text then stays the same whatever the list's length, so
    the driver and the server parse and plan it once and reuse that.
    """
    parts = query.split("?")
    if len(parts) != len(params) + 1:
        raise ValueError(f"query has {len(parts) - 1} placeholders for {len(params)} parameters")
    marks = placeholders(mark)
    text = [parts[0]]
    flat: list[Param | list[str]] = []
    for param, part in zip(params, parts[1:], strict=True):
        if isinstance(param, list):
            if arrays and (found := _IN_LIST.search(text[-1])) and part.startswith(")"):
                text[-1] = text[-1][: found.start()] + " = ANY("
                text.append(next(marks))
                flat.append(param)
            else:
                text.append(", ".join(itertools.islice(marks, len(param))))
                flat += param
        else:
            text.append(next(marks))
            flat.append(param)
        text.append(part)
    return "".join(text), flat


def multirow(
    query: str, rows: Sequence[Sequence[Param]], mark: str
) -> Iterator[tuple[str, list[Param]]]:
    """``INSERT … VALUES (?, ?) …`` for many rows as few statements: the row of
    placeholders repeated once per row, in chunks of at most :data:`MAX_PARAMS` parameters.

    One statement instead of one per row is what makes a page of writes cheap on a server:
    each statement costs a parse, a plan and a round of messages. Rows with the same
    conflict key must not share a statement (PostgreSQL refuses to update a row twice in
    one), so callers pass distinct keys.
    """
    width = _row_width(query)
    per_statement = max(1, MAX_PARAMS // width)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        if any(len(row) != width for row in chunk):
            raise ValueError(f"every row needs {width} values")
        yield _multirow_text(query, len(chunk), mark), [p for row in chunk for p in row]


def _row_width(query: str) -> int:
    found = list(_VALUES.finditer(query))
    if len(found) != 1 or "?" not in found[0].group(1):
        raise ValueError("a multi-row INSERT needs exactly one VALUES (?, …) row")
    return found[0].group(1).count("?")


@functools.lru_cache(maxsize=64)
def _multirow_text(query: str, rows: int, mark: str) -> str:
    # Cached: pages are mostly of one size, and a statement of thousands of placeholders
    # takes a while to spell out.
    values = next(_VALUES.finditer(query))
    parts = values.group(1).split("?")
    marks = placeholders(mark)
    spelled = []
    for _ in range(rows):
        row = [parts[0]]
        for part in parts[1:]:
            row += [next(marks), part]
        spelled.append("(" + "".join(row) + ")")
    return query[: values.start()] + "VALUES " + ", ".join(spelled) + query[values.end() :]


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
