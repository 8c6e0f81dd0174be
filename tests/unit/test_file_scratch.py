"""What a file source keeps on disk instead of memory: the sealed spool and the id index."""

from __future__ import annotations

import hashlib
import os
import random

import pytest

from contactsync_worker.sources.file_records import Position
from contactsync_worker.sources.first_seen import FirstSeen, IndexFull
from contactsync_worker.sources.spool import FRAME, Spool, SpoolError


def filled(data: bytes, chunk: int) -> Spool:
    spool = Spool()
    for start in range(0, len(data), chunk):
        spool.write(data[start : start + chunk])
    spool.finish()
    return spool


@pytest.mark.parametrize("chunk", [1000, FRAME, 3 * FRAME + 7])
def test_a_spool_reads_back_from_any_offset_what_was_written(chunk: int) -> None:
    data = random.Random(chunk).randbytes(5 * FRAME + 123)  # noqa: S311 - test data
    spool = filled(data, chunk)

    assert (spool.size, spool.digest) == (len(data), hashlib.sha256(data).hexdigest())
    for offset in (0, 1, FRAME - 1, FRAME, 2 * FRAME + 5, len(data) - 1, len(data)):
        with spool.reader(offset) as stream:
            assert stream.read() == data[offset:]
    with spool.reader(FRAME - 3) as stream:
        assert stream.read(10) == data[FRAME - 3 : FRAME + 7]
    spool.close()


def test_a_spool_on_disk_is_sealed_and_refuses_a_frame_altered_there() -> None:
    data = b"Erika Mustermann,erika@example.test\n" * 4000
    spool = filled(data, 4096)
    fd = spool._file.fileno()

    on_disk = os.pread(fd, 2 * spool.size, 0)
    assert b"Erika" not in on_disk
    os.pwrite(fd, bytes([on_disk[FRAME + 100] ^ 1]), FRAME + 100)  # inside frame 1

    with spool.reader(0) as stream:
        assert stream.read(FRAME) == data[:FRAME]
        with pytest.raises(SpoolError, match=r"frame 1 .* altered"):
            stream.read(1)
    spool.close()


def test_a_closed_spool_cannot_be_read() -> None:
    spool = filled(b"x" * 10, 10)
    spool.close()
    with pytest.raises(SpoolError, match="closed"), spool.reader(0) as stream:
        stream.read()


def test_the_index_keeps_the_first_position_of_each_id() -> None:
    index = FirstSeen(max_bytes=1024 * 1024)
    index.add([("a", Position(10, 2)), ("b", Position(20, 3))])
    index.add([("a", Position(30, 4)), ("\udc80", Position(40, 5))])
    index.finish()

    found = index.lookup(["a", "b", "\udc80", "missing"])

    assert found == {"a": Position(10, 2), "b": Position(20, 3), "\udc80": Position(40, 5)}
    index.close()


def test_an_index_past_its_size_is_full() -> None:
    index = FirstSeen(max_bytes=64 * 1024)
    ids = [(f"id-{n}", Position(n, n)) for n in range(100_000)]
    with pytest.raises(IndexFull, match="more ids than an index of 65536 bytes"):
        index.add(ids)
    index.close()
