"""CSV, JSON Lines and vCard sources: a file from a local path or an HTTPS URL, read as a
snapshot.

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
- **vCard**: one ``.vcf`` file of many cards (2.1, 3.0 or 4.0), as address books export
  them; how cards are found, read and given ids is ``vcf_records``'s docstring. Of a UID
  that several cards carry, the first card is synced and the others set aside.
- In CSV and JSON Lines, emails, phones, addresses and urls may carry types: a
  ``phones.cell`` column or key, and in JSON Lines objects
  ``{"value", "types", "pref", "label"}`` (``typed_keys``).
- That is the default mapping of CSV and JSON Lines. The spec's ``mapping`` names other
  columns and keys, or picks a preset (a Google or Outlook export;
  ``contactsync_api.mapping_presets``), and ``mapped_values`` reads them. A CSV header of
  which no column feeds an allowed field makes the file unavailable, naming its columns and
  the ones the mapping reads: an export in an unexpected shape must not sync as empty
  contacts.

Without an id, the item id is a hash of the record's first identity value (in
``spec.identity`` order), so it stays stable when a second email is added, and names no
one. The consent column or key is the source's ``consent.property``, else
``spec.consent.property``, read as consent values are (``contacts.consent_values``): a
JSON list holds several values, and JSON ``true``, ``false``, ``1`` and ``0`` are read as
those words.

Minimization happens at the parser: only allowed fields (and id, uid, consent) are
looked at; other columns are never read into a value, other JSON keys are dropped by
the decoder's object hook before the object is built.

A record that cannot be used (wrong cell count, invalid JSON, not an object, a wrong
type, invalid UTF-8, a duplicate id, a JSON line longer than 1 MiB) is quarantined under
``line:<n>``, its first line in the file, with a reason that names fields but never
values; the rest proceeds. A CSV record longer than 1 MiB (its quoted cells may hold line
breaks, so where it ends is unknown) or a quote that never closes make the whole file
unavailable instead.

Paging: the file is copied (at most ``max_bytes``) into a sealed spool on disk, hashed
on the way, and indexed in one streaming pass that keeps where each page starts and, in
an on-disk index, where each item id first appears (so a later duplicate is quarantined
naming that line). Each page is then parsed from the spool again: memory depends on the
page size, not on the file's size. The same bytes always parse the same way, so a page
read twice is the same page. The cursor is ``<sha256 of the file>:<offset>``, the offset
counting records. Should the next page be asked of an adapter without that content
(another worker, a restart) and the file changed meanwhile, :class:`CursorExpired` is
raised: the offsets of the old version mean nothing in the new one, and mixing two
versions into one snapshot would let rows vanish or repeat. The run restarts from
``cursor=None``.

Disk: the spool (the file's size) and the index (at most ``max_index_bytes``, by default
twice ``max_bytes``) live in ``/tmp`` until a changed file replaces them or the adapter
is closed; while a changed file is indexed the old version is still held. ``max_bytes``
is the spec's ``maxBytes`` (64 MiB unless set) and the operator sizes the worker's
``/tmp`` by it (``FileSourceSpec.tmp_bytes``), which is why it is a setting of the source
although memory does not depend on it. Copying, hashing, indexing and parsing run in
worker threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import ClassVar, Self

import httpx

from contactsync_api import runtime
from contactsync_api.egress import RegionEgress
from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.errors import SOURCE_ERRORS, CursorExpired, SourceNotFound, SourceUnavailable
from contactsync_api.mappings import file_mapping
from contactsync_worker import credentials, endpoint_failures
from contactsync_worker.adapter_context import AdapterContext
from contactsync_worker.contacts.model import Contact, FieldPolicy, Page
from contactsync_worker.sources.csv_records import read_header
from contactsync_worker.sources.file_records import Layout, Position, RawRecord, RecordMapper
from contactsync_worker.sources.first_seen import FirstSeen, IndexFull
from contactsync_worker.sources.jsonl_records import read_start
from contactsync_worker.sources.spool import Spool
from contactsync_worker.sources.vcf_records import duplicate_reason
from contactsync_worker.sources.vcf_records import read_start as read_first_card
from contactsync_worker.transport import (
    BearerAuth,
    EgressRefused,
    InsecureTransportError,
    http_client,
)

PAGE_SIZE = 500
MAX_BYTES = runtime.FILE_SOURCE_MAX_BYTES  # unless the spec sets maxBytes
_COPY_CHUNK = 1024 * 1024
_INDEX_BATCH = 1000


@dataclass(frozen=True)
class _Snapshot:
    """One version of the file, as this adapter holds it."""

    digest: str
    spool: Spool
    layout: Layout
    page_starts: list[Position]  # where record number k * page_size starts
    count: int  # records, the quarantined ones included
    first_seen: FirstSeen

    def close(self) -> None:
        self.spool.close()
        self.first_seen.close()


class _FileSource:
    """What CSV and JSON Lines share: copying, hashing, indexing, paging. Subclasses say
    how a version of the file is laid out."""

    kind: ClassVar[str]

    def __init__(
        self,
        name: str,
        config: FileSourceSpec,
        policy: FieldPolicy,
        *,
        secrets_dir: Path | None = None,
        page_size: int = PAGE_SIZE,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
        max_index_bytes: int | None = None,
        egress: RegionEgress | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.name = name
        self._config = config
        self._mapper = RecordMapper(name, policy, file_mapping(config.mapping))
        self._policy = policy
        self._secrets_dir = secrets_dir
        self._page_size = page_size
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_index_bytes = (
            runtime.file_source_index_bytes(max_bytes)
            if max_index_bytes is None
            else max_index_bytes
        )
        self._egress = egress
        self._snapshot: _Snapshot | None = None
        self._lock = asyncio.Lock()  # one snapshot, replaced and closed by one call at a time

    @classmethod
    def from_spec(cls, name: str, spec: FileSourceSpec, context: AdapterContext) -> Self:
        """The source a region's configuration declares (a ``csv``, ``jsonl`` or ``vcf`` kind)."""
        return cls(
            name,
            spec,
            context.policy,
            secrets_dir=context.secrets_dir,
            max_bytes=spec.max_bytes,
            egress=context.egress,
        )

    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        # A snapshot source ignores the checkpoint: every run lists everything and the
        # pipeline diffs by content hash.
        async with self._lock:
            if cursor is None:
                snapshot = await self._load()
                offset = 0
            else:
                digest, offset = self._parse_cursor(cursor)
                held = self._snapshot
                # Not the version this adapter holds: read the file again, it may be by now.
                snapshot = held if held and held.digest == digest else await self._load()
                if snapshot.digest != digest or offset > snapshot.count:
                    raise CursorExpired(
                        f"{self.kind} source {self.name!r}: the file changed during the run; "
                        "start the run again"
                    )
            return await asyncio.to_thread(self._page, snapshot, offset)

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        async with self._lock:
            snapshot = await self._load()
            return await asyncio.to_thread(self._items, snapshot, item_ids)

    async def aclose(self) -> None:
        async with self._lock:
            snapshot, self._snapshot = self._snapshot, None
            if snapshot is not None:
                snapshot.close()

    def _layout(self, stream: io.BufferedReader) -> Layout:
        """How the version of the file ``stream`` holds from its start is laid out."""
        raise NotImplementedError

    def _duplicate(self, item: Contact, first_line: int) -> str:
        """Why a record whose id the record on ``first_line`` already has is set aside."""
        return f"duplicate id: line {first_line} has the same id"

    # --- pages, in a worker thread ------------------------------------------------------

    def _page(self, snapshot: _Snapshot, offset: int) -> Page:
        records: list[RawRecord] = []
        if offset < snapshot.count:
            index, skip = divmod(offset, self._page_size)
            start = snapshot.page_starts[index]
            with self._scratch(), snapshot.spool.reader(start.offset) as stream:
                chunk = snapshot.layout.records(stream, start)
                records = list(islice(chunk, skip, skip + self._page_size))
        items = [self._mapper.mapped(r) for r in records]
        first = snapshot.first_seen.lookup(c.item_id for c in items if isinstance(c, Contact))
        page = Page(snapshot=True)
        for record, item in zip(records, items, strict=True):
            if not isinstance(item, Contact):
                page.quarantined.append(item)
            elif first.get(item.item_id, record.position) != record.position:
                reason = self._duplicate(item, first[item.item_id].line)
                page.quarantined.append(self._mapper.quarantined(record, reason))
            else:
                page.contacts.append(item)
        end = offset + len(records)
        page.complete = end >= snapshot.count
        page.cursor = None if page.complete else f"{snapshot.digest}:{end}"
        if offset == 0:  # every page of this version can be named now
            page.fanout = [
                f"{snapshot.digest}:{start}"
                for start in range(self._page_size, snapshot.count, self._page_size)
            ]
        return page

    def _items(self, snapshot: _Snapshot, item_ids: list[str]) -> list[Contact]:
        found: list[Contact] = []
        # In file order, as a page would list them.
        for position in sorted(snapshot.first_seen.lookup(item_ids).values()):
            with self._scratch(), snapshot.spool.reader(position.offset) as stream:
                record = next(iter(snapshot.layout.records(stream, position)), None)
            item = self._mapper.mapped(record) if record else None
            if isinstance(item, Contact):
                found.append(item)
        return found

    # --- reading and indexing -------------------------------------------------------------

    async def _load(self) -> _Snapshot:
        """The current version of the file: the one held if the file is unchanged."""
        spool = await self._copy()
        held = self._snapshot
        if held is not None and held.digest == spool.digest:
            spool.close()
            return held
        try:
            snapshot = await asyncio.to_thread(self._index, spool)
        except BaseException:
            spool.close()
            raise
        # Only now: a file that fails to index leaves the version held before usable.
        if held is not None:
            held.close()
        self._snapshot = snapshot
        return snapshot

    def _index(self, spool: Spool) -> _Snapshot:
        """One pass over the copy: where pages start, where ids first appear."""
        with self._scratch():
            with spool.reader() as stream:
                layout = self._layout(stream)
            first_seen = FirstSeen(self._max_index_bytes)
            page_starts: list[Position] = []
            count = 0
            batch: list[tuple[str, Position]] = []
            try:
                with spool.reader(layout.start.offset) as stream:
                    for record in layout.records(stream, layout.start):
                        if count % self._page_size == 0:
                            page_starts.append(record.position)
                        count += 1
                        item = self._mapper.mapped(record)
                        if isinstance(item, Contact):
                            batch.append((item.item_id, record.position))
                        if len(batch) >= _INDEX_BATCH:
                            first_seen.add(batch)
                            batch.clear()
                first_seen.add(batch)
                first_seen.finish()
            except BaseException:
                first_seen.close()
                raise
        return _Snapshot(spool.digest, spool, layout, page_starts, count, first_seen)

    async def _copy(self) -> Spool:
        """A sealed copy of the file as it is now, hashed, at most ``max_bytes`` long."""
        spool = Spool()
        try:
            if self._config.path is not None:
                await asyncio.to_thread(self._copy_path, Path(self._config.path), spool)
            else:
                assert self._config.url is not None  # the spec requires one of path and url
                await self._download(self._config.url, spool)
            await asyncio.to_thread(self._append, spool, None)
        except BaseException:
            spool.close()
            raise
        return spool

    def _copy_path(self, path: Path, spool: Spool) -> None:
        try:
            with path.open("rb") as file:
                for chunk in iter(partial(file.read, _COPY_CHUNK), b""):
                    self._append(spool, chunk)
        except FileNotFoundError as exc:
            raise SourceNotFound(
                f"{self.kind} source {self.name!r}: cannot read {str(path)!r}: no such file"
            ) from exc
        except OSError as exc:  # the spool's own errors arrive as SourceUnavailable
            raise SourceUnavailable(
                f"{self.kind} source {self.name!r}: cannot read {str(path)!r} "
                f"({type(exc).__name__}: {exc.strerror})"
            ) from exc

    async def _download(self, url: str, spool: Spool) -> None:
        config = self._config
        ca_bundle = credentials.ca_bundle_for(
            config.ca_bundle_secret_ref, secrets_dir=self._secrets_dir
        )
        prefix = f"{self.kind} source {self.name!r}"
        auth = self._auth(prefix)
        client = http_client(
            url,
            allow_insecure=config.allow_insecure,
            ca_bundle=ca_bundle,
            timeout=self._timeout,
            auth=auth,
            egress=self._egress,
        )
        try:
            async with client, client.stream("GET", url) as response:
                response.raise_for_status()
                async for chunk in response.aiter_bytes():
                    await asyncio.to_thread(self._append, spool, chunk)
        except httpx.HTTPStatusError as exc:
            status = exc.response.status_code
            failure = endpoint_failures.http_status(SOURCE_ERRORS, status)
            raise failure(f"{prefix}: the server answered HTTP {status}") from exc
        except httpx.HTTPError as exc:
            # Messages of transport errors carry the OS or TLS reason, not the URL.
            failure = endpoint_failures.http_transport(SOURCE_ERRORS, exc)
            raise failure(f"{prefix}: cannot fetch the file ({type(exc).__name__}: {exc})") from exc
        except EgressRefused:
            raise  # the platform's policy, not the server: a configuration error, not retried
        except InsecureTransportError as exc:
            raise SourceUnavailable(f"{prefix}: {exc}") from exc

    def _auth(self, prefix: str) -> BearerAuth | None:
        """The token, read from its Secret for each download: a rotated one is used by the
        next run of the running worker."""
        ref = self._config.credentials_secret_ref
        if ref is None:
            return None
        try:
            return BearerAuth(credentials.bearer_token(ref.name, secrets_dir=self._secrets_dir))
        except credentials.CredentialsError as exc:
            raise credentials.CredentialsError(f"{prefix}: {exc}") from exc

    def _append(self, spool: Spool, chunk: bytes | None) -> None:
        """Add ``chunk`` to the copy, or with None finish it; refuse past ``max_bytes``."""
        if chunk is not None and spool.size + len(chunk) > self._max_bytes:
            raise SourceUnavailable(
                f"{self.kind} source {self.name!r}: the file is larger than "
                f"{self._max_bytes} bytes; raise the limit or split the file"
            )
        with self._scratch():
            if chunk is None:
                spool.finish()
            else:
                spool.write(chunk)

    @contextlib.contextmanager
    def _scratch(self) -> Iterator[None]:
        """Failures of the copy or index on disk, as SourceUnavailable: retry later."""
        prefix = f"{self.kind} source {self.name!r}"
        try:
            yield
        except IndexFull as exc:
            raise SourceUnavailable(f"{prefix}: {exc}; split the file") from exc
        except OSError as exc:
            raise SourceUnavailable(
                f"{prefix}: cannot keep a copy of the file on disk ({type(exc).__name__}: {exc})"
            ) from exc

    def _parse_cursor(self, cursor: str) -> tuple[str, int]:
        digest, _, offset = cursor.rpartition(":")
        if len(digest) != 64 or not offset.isdigit():
            raise CursorExpired(f"{self.kind} source {self.name!r}: not a cursor of this source")
        return digest, int(offset)


class CsvSource(_FileSource):
    """Contacts from a CSV file with a header row; see the module docstring for the format."""

    kind = "CSV"

    def _layout(self, stream: io.BufferedReader) -> Layout:
        return read_header(stream, self.name, self._mapper.wanted())


class JsonLinesSource(_FileSource):
    """Contacts from a JSON Lines file; see the module docstring for the format."""

    kind = "JSON Lines"

    def _layout(self, stream: io.BufferedReader) -> Layout:
        return read_start(stream, self._mapper.wanted())


class VcfSource(_FileSource):
    """Contacts from a vCard file of many cards; see ``vcf_records`` for the format."""

    kind = "vCard"

    def _layout(self, stream: io.BufferedReader) -> Layout:
        return read_first_card(stream, self.name, self._policy)

    def _duplicate(self, item: Contact, first_line: int) -> str:
        # The first card keeps the UID: the same file always syncs the same card, as the
        # CSV and JSON Lines sources keep an id's first record.
        return duplicate_reason(item, first_line)
