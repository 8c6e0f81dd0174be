"""A private copy of a byte stream on disk, sealed, readable again from any offset.

File sources page through a snapshot of their file. Held in memory, a 48 MiB file cost
about 600 MiB of worker; a spool costs a frame buffer, whatever the file's size.

The copy is an anonymous temporary file (unlinked from the start, so nothing is left
behind when the worker dies) in Python's temp directory, the pod's ``/tmp`` emptyDir.
It is sealed with AES-GCM under a key that exists only in this object's memory, in frames
of :data:`FRAME` bytes numbered as their nonce: the node's disk never holds the file in
clear, not even the columns the field allowlist drops, and a frame altered or moved on
disk fails to open instead of being read.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

FRAME = 64 * 1024
_TAG = 16  # AES-GCM appends a 16-byte tag to each sealed frame
_SEALED = FRAME + _TAG


class SpoolError(OSError):
    """The spool cannot be read back: closed, or its file altered on disk."""


class Spool:
    """Write once, front to back; then :meth:`finish`, and read from any offset.

    ``size`` counts the bytes written and ``digest`` (after :meth:`finish`) is their
    SHA-256 in hex. Reading and closing may happen from different threads.
    """

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._hash = hashlib.sha256()
        self._pending = bytearray()
        self._frames = 0
        self._lock = threading.Lock()
        self.size = 0
        self.digest = ""

    def write(self, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        self._hash.update(view)
        self.size += len(view)
        if self._pending:
            room = FRAME - len(self._pending)
            self._pending += view[:room]
            view = view[room:]
            if len(self._pending) < FRAME:
                return
            self._seal(self._pending)
            self._pending = bytearray()
        while len(view) >= FRAME:
            self._seal(view[:FRAME])
            view = view[FRAME:]
        self._pending += view

    def finish(self) -> None:
        """Seal what is left; the copy is complete and ``digest`` is set."""
        if self._pending:
            self._seal(self._pending)
            self._pending = bytearray()
        self._file.flush()
        self.digest = self._hash.hexdigest()

    def reader(self, offset: int = 0) -> io.BufferedReader:
        """A buffered reader of the copy, positioned at ``offset``; close it when done."""
        raw = _SpoolReader(self)
        raw.seek(offset)
        return io.BufferedReader(raw, buffer_size=FRAME)

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def _seal(self, plain: ReadableBuffer) -> None:
        self._file.write(self._aead.encrypt(_nonce(self._frames), bytes(plain), None))
        self._frames += 1

    def _frame(self, index: int) -> bytes:
        with self._lock:
            if self._file.closed:
                raise SpoolError("the spool is closed")
            sealed = os.pread(self._file.fileno(), _SEALED, index * _SEALED)
        try:
            return self._aead.decrypt(_nonce(index), sealed, None)
        except InvalidTag:
            raise SpoolError(f"frame {index} of the spool was altered on disk") from None


def _nonce(index: int) -> bytes:
    # One fresh key per spool and one frame per index: a nonce is never used twice.
    return index.to_bytes(12, "big")


class _SpoolReader(io.RawIOBase):
    """Plain bytes of a spool, opened one frame at a time."""

    def __init__(self, spool: Spool) -> None:
        super().__init__()
        self._spool = spool
        self._position = 0
        self._index = -1
        self._plain = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._spool.size}
        position = base[whence] + offset
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._position >= self._spool.size:
            return 0
        index, within = divmod(self._position, FRAME)
        if index != self._index:
            self._plain, self._index = self._spool._frame(index), index
        target = memoryview(buffer).cast("B")
        count = min(len(target), len(self._plain) - within)
        target[:count] = self._plain[within : within + count]
        self._position += count
        return count
