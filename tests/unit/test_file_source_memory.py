"""A file source's memory follows its page size, not its file's size.

Each measurement pages through a whole file in a fresh process (``tests.memory_probe``):
peak resident memory only ever grows, so one process per file. Read whole and cached, as
files were before, 48 MiB of JSON Lines grew the peak by ~250 MiB and 24 MiB of CSV by
~230 MiB; paged from a spool, each grows it by ~7 MiB, the small files too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.memory_probe import write_people

MIB = 2**20
ROOT = Path(__file__).resolve().parents[2]


def peak_growth(kind: str, path: Path, page_size: int = 500) -> tuple[int, int]:
    """(records read, growth of peak resident memory in bytes) for paging through ``path``."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.memory_probe", kind, str(path), str(page_size)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    measured = json.loads(result.stdout)
    return measured["records"], measured["peak_rss_growth"]


@pytest.mark.parametrize(("kind", "small_mib"), [("jsonl", 12), ("csv", 6), ("vcf", 3)])
def test_paging_a_file_four_times_larger_takes_no_more_memory(
    tmp_path: Path, kind: str, small_mib: int
) -> None:
    small, large = tmp_path / f"small.{kind}", tmp_path / f"large.{kind}"
    small_count = write_people(small, kind, size=small_mib * MIB)
    large_count = write_people(large, kind, size=4 * small_mib * MIB)

    small_read, small_growth = peak_growth(kind, small)
    large_read, large_growth = peak_growth(kind, large)

    assert (small_read, large_read) == (small_count, large_count)
    # Read whole, the large file alone grew the peak by ~230 MiB or more.
    assert large_growth < 32 * MIB, f"{large_growth / MIB:.0f} MiB"
    # Four times the records add next to nothing: what grows is the page, not the file.
    assert large_growth - small_growth < 8 * MIB, (
        f"{small_growth / MIB:.0f} MiB for {small_count} records, "
        f"{large_growth / MIB:.0f} MiB for {large_count}"
    )
