"""CSV records read as a stream, from the start of the file or from any record.

RFC 4180 quoting lets a cell hold line breaks, so a record is not a line: the reader
counts the bytes and lines csv consumes and reports where each record starts, which is
where a later page resumes reading. A record longer than ``MAX_RECORD_BYTES`` makes the
file unreadable: where it ends cannot be known without reading it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from contactsync_api.errors import SourceUnavailable
from contactsync_api.fields import ContactField
from contactsync_api.mapping_targets import Target
from contactsync_worker.contacts.typed import Typed
from contactsync_worker.sources.file_records import (
    MAX_RECORD_BYTES,
    MULTI_KEYS,
    Keys,
    Position,
    RawRecord,
    RecordError,
    Value,
    add_mapped,
)
from contactsync_worker.sources.mapped_values import mapped_values
from contactsync_worker.sources.typed_keys import TypedKey

BOM = b"\xef\xbb\xbf"
FIELD_NAMES = frozenset(str(f) for f in ContactField)
# csv's own cap (128 Ki characters a cell, process-wide) stops a cell midway, and its
# reader then takes the rest of the cell for rows. Our cap on a whole record stops the
# read before csv sees a line too many, so csv's may not be lower.
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES))
# Bytes that are not UTF-8 survive decoding as lone surrogates (surrogateescape).
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class _TooLong(Exception):
    """A record grew past MAX_RECORD_BYTES (raised through the csv reader)."""


class _Lines:
    """The text lines the csv reader asks for, counted: byte offset and number of the next.

    ``newline=""`` keeps line breaks inside quoted cells as they are; ``surrogateescape``
    keeps bytes that are not UTF-8, so that the cell is quarantined by name, and makes the
    byte count exact (encoding the line again gives back its bytes).
    """

    def __init__(self, stream: io.BufferedReader, at: Position) -> None:
        self._text = io.TextIOWrapper(
            stream, encoding="utf-8", errors="surrogateescape", newline=""
        )
        self.offset, self.line = at
        self.record_start = at.offset
        self.exhausted = False

    @property
    def position(self) -> Position:
        return Position(self.offset, self.line)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        text = self._text.readline(MAX_RECORD_BYTES + 1)
        if not text:
            self.exhausted = True
            raise StopIteration
        self.offset += len(text.encode("utf-8", "surrogateescape"))
        self.line += 1
        if self.offset - self.record_start > MAX_RECORD_BYTES:
            raise _TooLong
        return text


@dataclass(frozen=True)
class MappedColumns:
    """The mapping's targets a header has columns for, and where those columns are."""

    targets: tuple[Target, ...]
    index: Mapping[str, int]  # lower-cased column name → its index, for the targets' columns
    shown: Mapping[int, str]  # index → the column's name as the header spells it
    allowed: frozenset[ContactField]
    separator: str


@dataclass(frozen=True)
class CsvLayout:
    """One CSV file's header: its width, which columns are read, where the rows start."""

    source: str
    width: int
    columns: Mapping[int, str | TypedKey]  # column index → canonical key, wanted columns only
    start: Position
    mapped: MappedColumns | None = None

    def records(self, stream: io.BufferedReader, at: Position) -> Iterator[RawRecord]:
        lines = _Lines(stream, at)
        # strict: a stray quote is an error for that row, not a silently merged field.
        reader = csv.reader(lines, strict=True)
        while True:
            position = lines.position
            lines.record_start = position.offset
            try:
                row = next(reader)
            except StopIteration:
                return
            except _TooLong:
                raise self._too_long(position) from None
            except csv.Error as exc:
                if lines.exhausted and lines.line - position.line > 1:
                    # An unclosed quote swallowed every later row: going on would make
                    # them look deleted, so the whole file is unreadable instead.
                    raise SourceUnavailable(
                        f"CSV source {self.source!r}: the quoted field opened on line "
                        f"{position.line} never closes"
                    ) from exc
                yield RawRecord(position, RecordError(f"not valid CSV ({exc})"))
                continue
            if not row:
                continue  # a blank line
            if len(row) != self.width:
                error = RecordError(f"the row has {len(row)} cells; the header has {self.width}")
                yield RawRecord(position, error)
                continue
            yield _row_record(position, row, self.columns, self.mapped)

    def _too_long(self, position: Position) -> SourceUnavailable:
        return SourceUnavailable(
            f"CSV source {self.source!r}: the record on line {position.line} is longer than "
            f"{MAX_RECORD_BYTES} bytes; where it ends cannot be told without reading it"
        )


def read_header(stream: io.BufferedReader, source: str, wanted: Keys) -> CsvLayout:
    """The layout of the CSV file ``stream`` holds from its start.

    Columns ``wanted`` does not match (ignoring case) are never read; neither are those
    of targets of fields not allowed. A header of which no column feeds an allowed field
    is refused (:func:`unmapped_header`).
    """
    offset = len(BOM) if stream.read(len(BOM)) == BOM else 0
    stream.seek(offset)
    lines = _Lines(stream, Position(offset, 1))
    # An empty file is more likely a failed export than an empty address book.
    no_header = SourceUnavailable(f"CSV source {source!r}: the file has no header row")
    try:
        header = next(csv.reader(lines, strict=True))
    except (StopIteration, csv.Error) as exc:
        raise no_header from exc
    except _TooLong:
        raise SourceUnavailable(
            f"CSV source {source!r}: the header is longer than {MAX_RECORD_BYTES} bytes"
        ) from None
    if not any(name.strip() for name in header):
        raise no_header
    columns: dict[int, str | TypedKey] = {}
    mapped_names = wanted.mapped_names(ignore_case=True)
    mapped_index: dict[str, int] = {}
    for index, name in enumerate(header):
        folded = name.strip().lower()
        if folded in mapped_names and folded not in mapped_index:
            mapped_index[folded] = index
    targets = tuple(t for t in wanted.targets() if t.name.strip().lower() in mapped_index)
    for index, name in enumerate(header):
        key = wanted.match(name, ignore_case=True)
        if key is None:
            continue  # not allowed, or not a field: never read
        if key in columns.values():
            shown = key.name if isinstance(key, TypedKey) else key
            raise SourceUnavailable(
                f"CSV source {source!r}: the header names column {shown!r} twice"
            )
        columns[index] = key
    fed = [k for k in columns.values() if isinstance(k, TypedKey) or k in FIELD_NAMES]
    if not fed and not any(wanted.feeds(t) for t in targets):
        raise unmapped_header(source, header, wanted)
    mapped = (
        MappedColumns(
            targets,
            mapped_index,
            {i: header[i].strip() for i in mapped_index.values()},
            wanted.allowed,
            wanted.mapping.separator,
        )
        if targets
        else None
    )
    return CsvLayout(source, len(header), columns, lines.position, mapped)


def unmapped_header(source: str, header: list[str], wanted: Keys) -> SourceUnavailable:
    """A header none of whose columns feeds an allowed field: reading on would sync
    records without a field. The message names columns, never a cell."""
    mapping = wanted.mapping
    if mapping.canonical:
        expected = sorted({*(t.name for t in wanted.mapping.targets if wanted.feeds(t))})
        expected += sorted(k for k in wanted.plain if k in FIELD_NAMES)
        expected += [f"{f}[.<type>]" for f in sorted(wanted.typed)]
        how = "the canonical field names"
    else:
        expected = list(dict.fromkeys(t.name for t in mapping.targets if wanted.feeds(t)))
        how = f"the {mapping.preset} mapping" if mapping.preset else "the mapping"
    return SourceUnavailable(
        f"CSV source {source!r}: no column of the header feeds an allowed field "
        f"(spec.fields); the header has {_listed(header)}; {how} reads {_listed(expected)}; "
        "set the source's mapping to name the columns"
    )


def _listed(names: list[str], most: int = 30) -> str:
    shown = ", ".join(repr(n.strip()[:64]) for n in names[:most])
    rest = len(names) - most
    return f"[{shown}{f', and {rest} more' if rest > 0 else ''}]" if names else "nothing"


def _row_record(
    position: Position,
    row: list[str],
    columns: Mapping[int, str | TypedKey],
    mapped: MappedColumns | None = None,
) -> RawRecord:
    values: dict[str, Value] = {}
    typed: dict[ContactField, list[Typed]] = {}
    for index, key in columns.items():
        cell = row[index]
        if _has_invalid_utf8(cell):
            shown = key.name if isinstance(key, TypedKey) else key
            return RawRecord(position, RecordError(f"{shown} is not valid UTF-8"))
        if isinstance(key, TypedKey):
            # An address is itself ;-separated text: a cell holds one per line.
            split = cell.splitlines() if key.field is ContactField.ADDRESSES else cell.split(";")
            typed.setdefault(key.field, []).extend(Typed(v, key.types) for v in split)
        elif key in MULTI_KEYS:
            values[key] = tuple(cell.split(";"))
        else:
            values[key] = cell
    if mapped is not None:
        for index in mapped.index.values():
            if _has_invalid_utf8(row[index]):
                shown = mapped.shown[index]
                return RawRecord(position, RecordError(f"{shown} is not valid UTF-8"))

        def read(name: str) -> list[str]:
            index = mapped.index.get(name.strip().lower())
            return [] if index is None else [row[index]]

        found = mapped_values(mapped.targets, read, mapped.allowed, mapped.separator)
        add_mapped(values, typed, found)
    return RawRecord(position, values, {f: tuple(v) for f, v in typed.items()})


def _has_invalid_utf8(text: str) -> bool:
    return _ESCAPED_BYTE.search(text) is not None
