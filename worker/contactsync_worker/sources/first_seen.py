"""Where each item id of one version of a file first appears: an index on disk.

A file source quarantines a record whose id an earlier record already has, naming the
line of the first; and ``fetch_items`` finds a record by its id. Both need every id of
the file. A set of ids in memory grows with the file (a file of short records holds
millions); this index lives in a private, temporary SQLite database with a bounded page
cache, so memory stays flat and disk use is capped by ``max_bytes``. SQLite deletes the
database when it is closed; it picks the directory from ``SQLITE_TMPDIR`` or ``TMPDIR``,
else the first writable of ``/var/tmp`` and ``/tmp`` (in a worker pod, whose root
filesystem is read-only, the ``/tmp`` emptyDir).

Ids are stored as BLAKE2b digests keyed with a random key held only here: fixed-size
rows, and nothing on disk that names a person (an id can be derived from an email).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Iterable

from contactsync_worker.sources.file_records import Position

_PAGE_BYTES = 4096
_CACHE_KIB = 2048
_LOOKUP_BATCH = 500  # well under SQLite's limit of bound parameters per statement


class IndexFull(OSError):
    """More ids than the index may hold (or the disk is full)."""


class FirstSeen:
    """The first position of each item id; later positions of the same id are ignored."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._key = os.urandom(32)
        self._lock = threading.Lock()  # one connection, used from worker threads in turn
        # "": a private temporary database on disk, removed when the connection closes.
        self._db = sqlite3.connect("", check_same_thread=False, isolation_level=None)
        for pragma in (
            # Nothing to recover after a crash: the index is rebuilt from the file.
            "journal_mode = OFF",
            "synchronous = OFF",
            f"page_size = {_PAGE_BYTES}",
            f"cache_size = -{_CACHE_KIB}",
            f"max_page_count = {max(1, max_bytes // _PAGE_BYTES)}",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute(
            "CREATE TABLE first_seen (id BLOB PRIMARY KEY, offset INTEGER NOT NULL, "
            "line INTEGER NOT NULL) WITHOUT ROWID"
        )
        # One transaction for the whole build: a commit per batch costs twice the time.
        self._db.execute("BEGIN")

    def add(self, entries: Iterable[tuple[str, Position]]) -> None:
        rows = [(self._digest(item_id), p.offset, p.line) for item_id, p in entries]
        with self._lock:
            try:
                self._db.executemany("INSERT OR IGNORE INTO first_seen VALUES (?, ?, ?)", rows)
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode == sqlite3.SQLITE_FULL:
                    # Without a journal the database is unusable now; so is the index.
                    raise IndexFull(
                        f"the file has more ids than an index of {self.max_bytes} bytes holds"
                    ) from exc
                raise

    def finish(self) -> None:
        """Every id is added: end the build's transaction."""
        with self._lock:
            self._db.execute("COMMIT")

    def lookup(self, item_ids: Iterable[str]) -> dict[str, Position]:
        by_digest = {self._digest(i): i for i in item_ids}
        digests = list(by_digest)
        found: dict[str, Position] = {}
        with self._lock:
            for start in range(0, len(digests), _LOOKUP_BATCH):
                batch = digests[start : start + _LOOKUP_BATCH]
                marks = ",".join("?" * len(batch))  # placeholders only: nothing is spliced in
                query = f"SELECT id, offset, line FROM first_seen WHERE id IN ({marks})"  # noqa: S608
                for digest, offset, line in self._db.execute(query, batch):
                    found[by_digest[digest]] = Position(offset, line)
        return found

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _digest(self, item_id: str) -> bytes:
        # surrogatepass: a JSON id may hold a lone surrogate (\\udc80), which is still an id.
        data = item_id.encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._key, digest_size=16).digest()
