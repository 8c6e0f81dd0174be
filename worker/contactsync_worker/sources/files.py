"""CSV and JSON Lines sources: a file from a local path or an HTTPS URL, read as a snapshot.

Formats (UTF-8, a byte-order mark is ignored):

- **CSV**: comma-separated, RFC 4180 quoting, a header row. Columns are named by the
  canonical field names (``fullName``, ``emails``, ``phones``, ...; matched ignoring case).
  Multi-valued cells hold several values separated by ``;``, except ``addresses``,
  whose values are the lines of the cell because an address itself is the vCard ADR
  text ``pobox;ext;street;locality;region;code;country`` (a line without ``;`` is taken
  as the street). An ``id`` column, else a ``uid`` column, gives each row its item id.
- **JSON Lines**: one object per line, keys are the canonical field names (exact case),
  values strings, or lists of strings for multi-valued fields; ``id`` (string or
  integer), else ``uid``, gives the item id. Blank lines are skipped.

Without an id, the item id is a hash of the record's first identity value (in
``spec.identity`` order), so it stays stable when a second email is added, and names no
one. The consent column or key is ``spec.consent.property``, purposes separated by ``,``
or ``;`` (or a JSON list).

Minimization happens at the parser: only allowed fields (and id, uid, consent) are
looked at; other columns are never read into a value, other JSON keys are dropped by
the decoder's object hook before the object is built.

A record that cannot be used (wrong cell count, invalid JSON, not an object, a wrong
type, invalid UTF-8, a duplicate id) is quarantined under ``line:<n>``, its first line
in the file, with a reason that names fields but never values; the rest proceeds.

Paging: the file is read whole (bounded by ``max_bytes``), parsed once and cached per
adapter; pages are slices by record offset. The cursor is ``<sha256 of the file>:<offset>``.
Should the next page be asked of an adapter without that content (another worker, a
restart) and the file changed meanwhile, :class:`CursorExpired` is raised: the offsets
of the old version mean nothing in the new one, and mixing two versions into one
snapshot would let rows vanish or repeat. The run restarts from ``cursor=None``.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import httpx

from contactsync_worker import credentials
from contactsync_worker.contacts.consent import parse_purposes
from contactsync_worker.contacts.model import (
    MULTI_VALUED,
    Contact,
    FieldPolicy,
    FieldValue,
    Page,
    Quarantined,
)
from contactsync_worker.contacts.photo import InvalidPhoto, parse_data_uri
from contactsync_worker.contracts import ContactField, IdentityKey
from contactsync_worker.contracts.spec import FileSource as FileSpec
from contactsync_worker.sources import SourceUnavailable
from contactsync_worker.transport import BearerAuth, InsecureTransportError, http_client

PAGE_SIZE = 500
MAX_BYTES = 64 * 1024 * 1024
ID_KEYS = ("id", "uid")

_PURPOSE_SEPARATOR = re.compile(r"[,;]")
_UNESCAPED_SEMICOLON = re.compile(r"(?<!\\);")
_ADR_COMPONENTS = 7
_Value = str | tuple[str, ...]
_MULTI_KEYS = frozenset(str(f) for f in MULTI_VALUED)
_SINGLE_KEYS = frozenset(str(f) for f in ContactField if f not in MULTI_VALUED)


class CursorExpired(SourceUnavailable):
    """The cursor belongs to a state of the source that is gone (the file changed, the LDAP
    paging session ended): start the run again with ``cursor=None`` and discard what it saw.

    A SourceUnavailable, so a caller that does not know it still deletes nothing.
    It belongs in ``sources/__init__.py``; it lives here until that module takes it.
    """


class RecordError(ValueError):
    """A record cannot be used; the message names fields, never values."""


@dataclass(frozen=True)
class _Snapshot:
    digest: str
    records: list[Contact | Quarantined]


class _FileSource:
    """What CSV and JSON Lines share: reading, hashing, paging, ids. Subclasses parse."""

    kind: ClassVar[str]

    def __init__(
        self,
        name: str,
        config: FileSpec,
        policy: FieldPolicy,
        *,
        secrets_dir: Path | None = None,
        page_size: int = PAGE_SIZE,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.name = name
        self._config = config
        self._policy = policy
        self._secrets_dir = secrets_dir
        self._page_size = page_size
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._snapshot: _Snapshot | None = None

    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        # A snapshot source ignores the checkpoint: every run lists everything and the
        # pipeline diffs by content hash.
        if cursor is None:
            snapshot = await self._load()
            offset = 0
        else:
            digest, offset = self._parse_cursor(cursor)
            held = self._snapshot
            # Not the version this adapter holds: read the file again, it may be by now.
            snapshot = held if held and held.digest == digest else await self._load()
            if snapshot.digest != digest or offset > len(snapshot.records):
                raise CursorExpired(
                    f"{self.kind} source {self.name!r}: the file changed during the run; "
                    "start the run again"
                )
        chunk = snapshot.records[offset : offset + self._page_size]
        end = offset + len(chunk)
        complete = end >= len(snapshot.records)
        return Page(
            contacts=[r for r in chunk if isinstance(r, Contact)],
            quarantined=[r for r in chunk if isinstance(r, Quarantined)],
            cursor=None if complete else f"{snapshot.digest}:{end}",
            complete=complete,
            snapshot=True,
        )

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        wanted = set(item_ids)
        snapshot = await self._load()
        return [r for r in snapshot.records if isinstance(r, Contact) and r.item_id in wanted]

    async def aclose(self) -> None:
        self._snapshot = None

    # --- reading ---------------------------------------------------------------------

    async def _load(self) -> _Snapshot:
        data = await self._read()
        digest = hashlib.sha256(data).hexdigest()
        if self._snapshot is None or self._snapshot.digest != digest:
            records = await asyncio.to_thread(self._records, data)
            self._snapshot = _Snapshot(digest, records)
        return self._snapshot

    async def _read(self) -> bytes:
        if self._config.path is not None:
            return await asyncio.to_thread(self._read_path, Path(self._config.path))
        assert self._config.url is not None  # the spec requires exactly one of path and url
        return await self._download(self._config.url)

    def _read_path(self, path: Path) -> bytes:
        try:
            with path.open("rb") as file:
                data = file.read(self._max_bytes + 1)
        except OSError as exc:
            raise SourceUnavailable(
                f"{self.kind} source {self.name!r}: cannot read {str(path)!r} "
                f"({type(exc).__name__}: {exc.strerror})"
            ) from exc
        self._check_size(len(data))
        return data

    async def _download(self, url: str) -> bytes:
        config = self._config
        ca_bundle = credentials.ca_bundle_for(
            config.ca_bundle_secret_ref, secrets_dir=self._secrets_dir
        )
        auth = (
            BearerAuth(
                credentials.bearer_token(
                    config.credentials_secret_ref.name, secrets_dir=self._secrets_dir
                )
            )
            if config.credentials_secret_ref
            else None
        )
        prefix = f"{self.kind} source {self.name!r}"
        client = http_client(
            url,
            allow_insecure=config.allow_insecure,
            ca_bundle=ca_bundle,
            timeout=self._timeout,
            auth=auth,
        )
        try:
            async with client, client.stream("GET", url) as response:
                response.raise_for_status()
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    self._check_size(len(body))
                return bytes(body)
        except httpx.HTTPStatusError as exc:
            raise SourceUnavailable(
                f"{prefix}: the server answered HTTP {exc.response.status_code}"
            ) from exc
        except httpx.HTTPError as exc:
            # Messages of transport errors carry the OS or TLS reason, not the URL.
            raise SourceUnavailable(
                f"{prefix}: cannot fetch the file ({type(exc).__name__}: {exc})"
            ) from exc
        except InsecureTransportError as exc:
            raise SourceUnavailable(f"{prefix}: {exc}") from exc

    def _check_size(self, size: int) -> None:
        if size > self._max_bytes:
            raise SourceUnavailable(
                f"{self.kind} source {self.name!r}: the file is larger than "
                f"{self._max_bytes} bytes; raise the limit or split the file"
            )

    def _parse_cursor(self, cursor: str) -> tuple[str, int]:
        digest, _, offset = cursor.rpartition(":")
        if len(digest) != 64 or not offset.isdigit():
            raise CursorExpired(f"{self.kind} source {self.name!r}: not a cursor of this source")
        return digest, int(offset)

    # --- records ---------------------------------------------------------------------

    def _records(self, data: bytes) -> list[Contact | Quarantined]:
        """Every record in file order; later duplicates of an id are quarantined."""
        records: list[Contact | Quarantined] = []
        first_line: dict[str, int] = {}
        for line, parsed in self._parse(data):
            if isinstance(parsed, RecordError):
                records.append(Quarantined(self.name, f"line:{line}", str(parsed)))
                continue
            try:
                contact = self._contact(parsed)
                if contact.item_id in first_line:
                    raise RecordError(
                        f"duplicate id: line {first_line[contact.item_id]} has the same id"
                    )
            except RecordError as exc:
                records.append(Quarantined(self.name, f"line:{line}", str(exc)))
                continue
            first_line[contact.item_id] = line
            records.append(contact)
        return records

    def _parse(self, data: bytes) -> Iterator[tuple[int, Mapping[str, _Value] | RecordError]]:
        """(first line, values by key) for every record; keys are canonical field names,
        ``id``, ``uid`` and the consent property, and only the wanted ones."""
        raise NotImplementedError

    def _wanted(self) -> dict[str, str]:
        """Lower-cased key → canonical key, for every key the policy lets us read."""
        keys = [str(f) for f in self._policy.allowed] + list(ID_KEYS)
        if self._policy.consent_property:
            keys.append(self._policy.consent_property)
        return {key.lower(): key for key in keys}

    def _contact(self, values: Mapping[str, _Value]) -> Contact:
        fields: dict[ContactField, FieldValue] = {}
        for field in sorted(self._policy.allowed):
            value = values.get(str(field))
            if value is not None:
                normalized = _normalize(field, value)
                if normalized:
                    fields[field] = normalized
        uid = _single(values.get("uid"), "uid")
        contact = Contact(
            source=self.name,
            item_id="",
            fields=fields,
            uid=uid if IdentityKey.UID in self._policy.identity else None,
            consent=self._consent(values),
        )
        given_id = _single(values.get("id"), "id")
        if "id" in values and not given_id:
            raise RecordError("id is empty")
        item_id = given_id or uid or self._derived_id(contact)
        return dataclasses.replace(contact, item_id=item_id)

    def _derived_id(self, contact: Contact) -> str:
        identity = contact.identity(self._policy.identity)
        if not identity:
            raise RecordError(
                "no id: the record has no id or uid, and no identity value to derive one from"
            )
        return "sha256:" + hashlib.sha256(identity[0].encode()).hexdigest()[:32]

    def _consent(self, values: Mapping[str, _Value]) -> frozenset[str] | None:
        prop = self._policy.consent_property
        raw = values.get(prop) if prop else None
        if raw is None:
            return None
        parts = raw if isinstance(raw, tuple) else (raw,)
        return parse_purposes([p for part in parts for p in _PURPOSE_SEPARATOR.split(part)]) or None


def _single(value: _Value | None, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, tuple):
        raise RecordError(f"{key} must be a single value")
    return value.strip() or None


def _normalize(field: ContactField, value: _Value) -> FieldValue | None:
    if field not in MULTI_VALUED:
        text = _single(value, str(field))
        if text and field is ContactField.PHOTO:
            try:
                parse_data_uri(text)
            except InvalidPhoto as exc:
                raise RecordError(str(exc)) from None
        return text
    values = value if isinstance(value, tuple) else (value,)
    cleaned = (v.strip() for v in values)
    if field is ContactField.ADDRESSES:
        cleaned = (_address(v) for v in cleaned if v)
    unique = tuple(dict.fromkeys(v for v in cleaned if v))
    return unique or None


def _address(text: str) -> str:
    """vCard ADR text; a label without ``;`` becomes the street component."""
    components = _UNESCAPED_SEMICOLON.split(text)
    if len(components) == 1:
        escaped = text.replace("\\", "\\\\").replace(",", "\\,")
        return f";;{escaped};;;;"
    if len(components) != _ADR_COMPONENTS:
        raise RecordError(
            "addresses: an address has 7 components separated by ';' "
            "(pobox;ext;street;locality;region;code;country), or none"
        )
    return text


def _has_invalid_utf8(text: str) -> bool:
    # Bytes that are not UTF-8 survive decoding as lone surrogates (surrogateescape).
    return any("\udc80" <= ch <= "\udcff" for ch in text)


class CsvSource(_FileSource):
    """Contacts from a CSV file with a header row; see the module docstring for the format."""

    kind = "CSV"

    def _parse(self, data: bytes) -> Iterator[tuple[int, Mapping[str, _Value] | RecordError]]:
        text = data.decode("utf-8-sig", errors="surrogateescape")
        # strict: a stray quote is an error for that row, not a silently merged field.
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        width, columns = self._header(reader)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if reader.line_num > start and _exhausted(reader):
                    # An unclosed quote swallowed every later row: going on would make
                    # them look deleted, so the whole file is unreadable instead.
                    raise SourceUnavailable(
                        f"CSV source {self.name!r}: the quoted field opened on line {start} "
                        "never closes"
                    ) from exc
                yield start, RecordError(f"not valid CSV ({exc})")
                continue
            if not row:
                continue  # a blank line
            if len(row) != width:
                yield start, RecordError(f"the row has {len(row)} cells; the header has {width}")
                continue
            yield start, _row_values(row, columns)

    def _header(self, reader: Iterator[list[str]]) -> tuple[int, dict[int, str]]:
        """The header's width, and column index → canonical key for the wanted columns."""
        # An empty file is more likely a failed export than an empty address book.
        no_header = SourceUnavailable(f"CSV source {self.name!r}: the file has no header row")
        try:
            header = next(reader)
        except (StopIteration, csv.Error) as exc:
            raise no_header from exc
        if not any(name.strip() for name in header):
            raise no_header
        wanted = self._wanted()
        columns: dict[int, str] = {}
        for index, name in enumerate(header):
            key = wanted.get(name.strip().lower())
            if key is None:
                continue  # not allowed, or not a field: never read
            if key in columns.values():
                raise SourceUnavailable(
                    f"CSV source {self.name!r}: the header names column {key!r} twice"
                )
            columns[index] = key
        return len(header), columns


def _row_values(row: list[str], columns: Mapping[int, str]) -> Mapping[str, _Value] | RecordError:
    values: dict[str, _Value] = {}
    for index, key in columns.items():
        cell = row[index]
        if _has_invalid_utf8(cell):
            return RecordError(f"{key} is not valid UTF-8")
        if key == ContactField.ADDRESSES:
            values[key] = tuple(cell.splitlines())
        elif key in _MULTI_KEYS:
            values[key] = tuple(cell.split(";"))
        else:
            values[key] = cell
    return values


def _exhausted(reader: Iterator[list[str]]) -> bool:
    try:
        next(reader)
    except StopIteration:
        return True
    except csv.Error:
        return False
    return False


class JsonLinesSource(_FileSource):
    """Contacts from a JSON Lines file; see the module docstring for the format."""

    kind = "JSON Lines"

    def _parse(self, data: bytes) -> Iterator[tuple[int, Mapping[str, _Value] | RecordError]]:
        wanted = {key: key for key in self._wanted().values()}
        data = data.removeprefix(b"\xef\xbb\xbf")
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                yield number, _json_values(raw, wanted)
            except RecordError as exc:
                yield number, exc


def _json_values(raw: bytes, wanted: Mapping[str, str]) -> Mapping[str, _Value]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("the line is not valid UTF-8") from None

    def keep_wanted(pairs: list[tuple[str, object]]) -> dict[str, object]:
        # Called for every object as it is decoded: unwanted keys never enter a dict.
        kept: dict[str, object] = {}
        for key, value in pairs:
            if key in wanted:
                if key in kept:
                    raise RecordError(f"the key {key!r} appears twice")
                kept[key] = value
        return kept

    try:
        obj = json.loads(line, object_pairs_hook=keep_wanted)
    except RecordError:
        raise
    except (ValueError, RecursionError):
        # Not chained: a JSONDecodeError carries the line itself in .doc.
        raise RecordError("the line is not valid JSON") from None
    if not isinstance(obj, dict):
        raise RecordError("the line is not a JSON object")
    return {key: _json_value(key, value) for key, value in obj.items() if value is not None}


def _json_value(key: str, value: object) -> _Value:
    if key in ID_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    multi = key in _MULTI_KEYS or (key not in ID_KEYS and key not in _SINGLE_KEYS)
    if multi and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    expected = "a string or a list of strings" if multi else "a string"
    raise RecordError(f"{key} must be {expected}")
