"""JSON Lines records read as a stream, from the start of the file or from any record.

One record per line, so a line too long to read is quarantined and skipped without
being held: the next line is a record of its own.
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass

from contactsync_api.fields import ContactField
from contactsync_worker.contacts.typed import InvalidTyping, Typed
from contactsync_worker.sources.file_records import (
    ID_KEYS,
    MAX_RECORD_BYTES,
    MULTI_KEYS,
    SINGLE_KEYS,
    Keys,
    Position,
    RawRecord,
    RecordError,
    Value,
    add_mapped,
)
from contactsync_worker.sources.mapped_values import mapped_values
from contactsync_worker.sources.typed_keys import OBJECT_KEYS, TypedKey, typed_from_json

BOM = b"\xef\xbb\xbf"
_SKIP_CHUNK = 64 * 1024


@dataclass(frozen=True)
class JsonLinesLayout:
    """Where a JSON Lines file's records start, and the keys read from them."""

    wanted: Keys
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
                try:
                    yield _json_record(position, raw, self.wanted)
                except RecordError as exc:
                    yield RawRecord(position, exc)


def read_start(stream: io.BufferedReader, wanted: Keys) -> JsonLinesLayout:
    """The layout of the JSON Lines file ``stream`` holds from its start."""
    offset = len(BOM) if stream.read(len(BOM)) == BOM else 0
    return JsonLinesLayout(wanted, Position(offset, 1))


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
def _decoder(wanted: Keys) -> json.JSONDecoder:
    def keep_wanted(pairs: list[tuple[str, object]]) -> dict[str, object]:
        # Called for every object as it is decoded: unwanted keys never enter a dict. A
        # typed value's object is nested, so its keys are kept at every level; at the top
        # level _json_record reads only the wanted ones.
        kept: dict[str, object] = {}
        for key, value in pairs:
            keep = key in OBJECT_KEYS or wanted.mapped(key, ignore_case=False)
            if keep or wanted.match(key, ignore_case=False) is not None:
                if key in kept:
                    raise RecordError(f"the key {key!r} appears twice")
                kept[key] = value
        return kept

    return json.JSONDecoder(object_pairs_hook=keep_wanted)


def _json_record(position: Position, raw: bytes, wanted: Keys) -> RawRecord:
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
    values: dict[str, Value] = {}
    typed: dict[ContactField, list[Typed]] = {}
    seen: set[str] = set()
    for name, value in obj.items():
        key = wanted.match(name, ignore_case=False)
        if key is None or value is None:
            continue  # a typed value's own key ("value", "label") at the top level
        canonical = key.name if isinstance(key, TypedKey) else key
        if canonical in seen:
            raise RecordError(f"the key {canonical!r} appears twice")
        seen.add(canonical)
        if isinstance(key, TypedKey):
            try:
                typed.setdefault(key.field, []).extend(typed_from_json(key, value))
            except InvalidTyping as exc:
                raise RecordError(str(exc)) from None
        else:
            values[key] = _json_value(key, value)
    targets = wanted.targets()
    if targets:
        found = mapped_values(targets, lambda name: _mapped_texts(obj, name), wanted.allowed)
        add_mapped(values, typed, found)
    return RawRecord(position, values, {f: tuple(v) for f, v in typed.items()})


def _mapped_texts(obj: dict[str, object], name: str) -> list[str]:
    """A key a mapping names: a string or a list of strings."""
    value = obj.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise RecordError(f"{name} must be a string or a list of strings")


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
