"""JSON Lines records read as a stream, from the start of the file or from any record.

One record per line, so a line too long to read is quarantined and skipped without
being held: the next line is a record of its own.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from contactsync_worker.sources.file_records import (
    ID_KEYS,
    MAX_RECORD_BYTES,
    MULTI_KEYS,
    SINGLE_KEYS,
    Position,
    RawRecord,
    RecordError,
    Value,
)

BOM = b"\xef\xbb\xbf"
_SKIP_CHUNK = 64 * 1024


@dataclass(frozen=True)
class JsonLinesLayout:
    """Where a JSON Lines file's records start, and the keys read from them."""

    wanted: frozenset[str]
    start: Position

    def records(self, stream: io.BufferedReader, at: Position) -> Iterator[RawRecord]:
        offset, number = at
        while raw := stream.readline(MAX_RECORD_BYTES + 1):
            position = Position(offset, number)
            offset += len(raw)
            number += 1
            if len(raw) > MAX_RECORD_BYTES:
                offset += _skip_line(stream, raw)
                error = RecordError(f"the line is longer than {MAX_RECORD_BYTES} bytes")
                yield RawRecord(position, error)
            elif raw.strip():
                values: Mapping[str, Value] | RecordError
                try:
                    values = _json_values(raw, self.wanted)
                except RecordError as exc:
                    values = exc
                yield RawRecord(position, values)


def read_start(stream: io.BufferedReader, wanted: Mapping[str, str]) -> JsonLinesLayout:
    """The layout of the JSON Lines file ``stream`` holds from its start."""
    offset = len(BOM) if stream.read(len(BOM)) == BOM else 0
    return JsonLinesLayout(frozenset(wanted.values()), Position(offset, 1))


def _skip_line(stream: io.BufferedReader, head: bytes) -> int:
    """Read past the rest of a line whose ``head`` was read; the count of bytes skipped."""
    skipped = 0
    tail = head
    while not tail.endswith(b"\n"):
        tail = stream.readline(_SKIP_CHUNK)
        if not tail:
            break
        skipped += len(tail)
    return skipped


@functools.cache
def _decoder(wanted: frozenset[str]) -> json.JSONDecoder:
    def keep_wanted(pairs: list[tuple[str, object]]) -> dict[str, object]:
        # Called for every object as it is decoded: unwanted keys never enter a dict.
        kept: dict[str, object] = {}
        for key, value in pairs:
            if key in wanted:
                if key in kept:
                    raise RecordError(f"the key {key!r} appears twice")
                kept[key] = value
        return kept

    return json.JSONDecoder(object_pairs_hook=keep_wanted)


def _json_values(raw: bytes, wanted: frozenset[str]) -> Mapping[str, Value]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("the line is not valid UTF-8") from None
    try:
        obj = _decoder(wanted).decode(line)
    except RecordError:
        raise
    except (ValueError, RecursionError):
        # Not chained: a JSONDecodeError carries the line itself in .doc.
        raise RecordError("the line is not valid JSON") from None
    if not isinstance(obj, dict):
        raise RecordError("the line is not a JSON object")
    return {key: _json_value(key, value) for key, value in obj.items() if value is not None}


def _json_value(key: str, value: object) -> Value:
    if key in ID_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if _is_consent_key(key) and isinstance(value, int):
        return json.dumps(value)  # true, false, 1, 0: words of the consent vocabulary
    if isinstance(value, str):
        return value
    multi = key in MULTI_KEYS or (key not in ID_KEYS and key not in SINGLE_KEYS)
    if multi and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = "a string or a list of strings" if multi else "a string"
    raise RecordError(f"{key} must be {expected}")


def _is_consent_key(key: str) -> bool:
    """The one wanted key that is neither a field nor an id is the consent property."""
    return key not in ID_KEYS and key not in SINGLE_KEYS and key not in MULTI_KEYS
