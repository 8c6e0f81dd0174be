"""Sync N records from a CSV and from a JSON Lines file into PostgreSQL:
``python -m bench.file_sync [--records N] [--runs R] [--store postgres|sqlite]``.

Starts PostgreSQL and a Temporal dev server on loopback (the test suite's helpers, state in
a temp dir), writes both files, runs a full and a no-change sync of each ``--runs`` times
and stops the servers. The table goes to stdout; progress to stderr; every sample as JSON
to bench/results/file-sync-N.json.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.servers.postgres import running_postgres
from tests.servers.temporal import TemporalDevServer

from bench.carddav_sync import measure
from bench.file_sync import people, report
from bench.file_sync.region import STORES, FileSyncRun
from bench.file_sync.scenarios import FORMATS, Bench
from bench.machine import machine, versions

REPO = Path(__file__).resolve().parents[2]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.file_sync", description=__doc__)
    parser.add_argument("--records", type=int, default=100_000, help="records in each file")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario per format")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated records")
    parser.add_argument(
        "--store", choices=STORES, default="postgres", help="the region's state store"
    )
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="output dir")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = arguments(argv)
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="contactsync-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        files = {kind: work / f"people.{kind}" for kind in FORMATS}
        for kind, path in files.items():
            people.WRITERS[kind](path, args.records, args.seed)
        say(", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MiB" for p in files.values()))
        (work / "postgres").mkdir()
        postgres = stack.enter_context(running_postgres(work / "postgres"))
        temporal = TemporalDevServer(work / "temporal").start()
        stack.callback(temporal.stop)
        assert temporal.process is not None
        bench = Bench(
            files=files,
            records=args.records,
            region=FileSyncRun(work / "region", temporal.address, postgres.dsn, args.store),
            temporal_pid=temporal.process.pid,
            repo=REPO,
            log=work / "runs.log",
        )
        samples = bench.run_all(args.runs, say)
        context: dict[str, Any] = {
            "command": f"python -m bench.file_sync {' '.join(argv)}".strip(),
            "started": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(("psycopg", "temporalio"), postgres.dsn),
            "records": args.records,
            "runs": args.runs,
            "seed": args.seed,
            "store": args.store,
            "file_mib": {k: round(p.stat().st_size / 2**20, 1) for k, p in files.items()},
            "servers": {
                "temporal_dev_server_peak_rss_mib": measure.peak_rss_mib(temporal.process.pid),
            },
        }
    print(report.text_table(report.medians(samples), args.runs, args.records))
    path = args.results / f"file-sync-{args.records}.json"
    report.write_json(path, samples, context)
    say(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
