"""Peak memory of paging through a CSV and a JSON Lines file source, against the record count.

Each file is paged through in a fresh process (``tests.memory_probe``), which reports how
far its peak resident memory rose while it read. The target: flat, whatever the count (a
few MiB: a page of contacts, buffers, SQLite's cache). Run:

    .venv/bin/python -m bench.file_source_memory [RECORDS ...] [--traced]

``--traced`` adds tracemalloc's peak (Python's allocations only; ~5x slower). Records are
~270 bytes in JSON Lines, ~190 in CSV, each with a column the field policy drops.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.memory_probe import write_people

MIB = 2**20
PAGE_SIZE = 500


def measure(kind: str, path: Path, traced: bool) -> dict[str, float]:
    argv = [sys.executable, "-m", "tests.memory_probe", kind, str(path), str(PAGE_SIZE)]
    result = subprocess.run(
        [*argv, *(["--traced"] if traced else [])], check=True, capture_output=True, text=True
    )
    measured: dict[str, float] = json.loads(result.stdout)
    return measured


def main(args: list[str]) -> None:
    traced = "--traced" in args
    counts = [int(a) for a in args if a != "--traced"] or [50_000, 200_000]
    header = ["kind", "records", "file MiB", "peak growth MiB", "seconds"]
    header += ["traced MiB"] if traced else []
    print(*(f"{h:>16}" for h in header))
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("jsonl", "csv"):
            for count in counts:
                path = Path(scratch) / f"people-{count}.{kind}"
                write_people(path, kind, records=count)
                m = measure(kind, path, traced)
                row = [kind, count, path.stat().st_size / MIB, m["peak_rss_growth"] / MIB]
                row += [m["seconds"]] + ([m["traced_peak"] / MIB] if traced else [])
                print(*(f"{v:>16.1f}" if isinstance(v, float) else f"{v:>16}" for v in row))
                path.unlink()


if __name__ == "__main__":
    main(sys.argv[1:])
