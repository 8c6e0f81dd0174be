"""Run the side-by-side benchmark: ``python -m bench.carddav_sync [--cards N] [--runs N] ...``.

Starts Radicale, PostgreSQL and a Temporal dev server on loopback (the test suite's helpers,
state in a temp dir), installs vdirsyncer into its own virtualenv outside the clone, loads
the book, runs every scenario ``--runs`` times for each tool and stops the servers. The
table goes to stdout; progress to stderr; JSON and a plot to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.servers.postgres import running_postgres
from tests.servers.radicale import USERNAME, running_radicale
from tests.servers.temporal import TemporalDevServer

from bench.carddav_sync import book, context, measure, radicale_files, report, vdirsyncer
from bench.carddav_sync.bench_worker import READ_TIMEOUT
from bench.carddav_sync.plot import plot
from bench.carddav_sync.sample import SCENARIOS, TOOLS, Sample
from bench.carddav_sync.scenarios import Bench, time_listing, warm_up
from bench.carddav_sync.tools import DESTINATIONS, POSTGRES, Harness

REPO = Path(__file__).resolve().parents[2]
BOOK = "bench"
PUT, FILES = "put", "files"


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _choices(allowed: tuple[str, ...]) -> Any:
    def parse(text: str) -> list[str]:
        chosen = [part.strip() for part in text.split(",") if part.strip()]
        if unknown := [c for c in chosen if c not in allowed]:
            raise argparse.ArgumentTypeError(f"{unknown}: choose from {', '.join(allowed)}")
        return chosen

    return parse


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.carddav_sync", description=__doc__)
    parser.add_argument("--cards", type=int, default=10_000, help="cards in the book")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario per tool")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated cards")
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="output dir")
    parser.add_argument(
        "--tools", type=_choices(TOOLS), default=list(TOOLS), help=f"of {','.join(TOOLS)}"
    )
    parser.add_argument(
        "--scenarios",
        type=_choices(SCENARIOS),
        default=list(SCENARIOS),
        # argparse formats help with %: the "1% changed" scenario's sign is doubled.
        help=f"of {','.join(SCENARIOS).replace('%', '%%')}; every run starts with a full sync "
        "all the same",
    )
    parser.add_argument(
        "--load",
        choices=(PUT, FILES),
        default=PUT,
        help="put: one PUT of the whole book; files: written into Radicale's storage before "
        "it starts (100,000 cards in seconds)",
    )
    parser.add_argument(
        "--destination",
        choices=DESTINATIONS,
        default=POSTGRES,
        help="postgres: ContactSync into a table, vdirsyncer into local files; carddav: both "
        "into another Radicale address book",
    )
    parser.add_argument(
        "--read-timeout",
        type=float,
        help="seconds ContactSync's HTTP clients wait for an answer (bench only; default: the "
        "worker's own)",
    )
    parser.add_argument("--label", help="appended to the results' file names")
    return parser.parse_args(argv)


def load(args: argparse.Namespace, storage: Path) -> dict[str, float]:
    """Write the book as files before Radicale starts (``--load files``); return the time."""
    if args.load != FILES:
        return {}
    started = time.perf_counter()
    radicale_files.write(storage, USERNAME, BOOK, args.cards, args.seed)
    return {"files_written_seconds": time.perf_counter() - started}


def run(args: argparse.Namespace, work: Path) -> tuple[list[Sample], dict[str, float]]:
    (work / "radicale").mkdir()
    timings = load(args, work / "radicale" / "collections")
    with ExitStack() as stack:
        radicale = stack.enter_context(running_radicale(work / "radicale"))
        dsn = ""
        if args.destination == POSTGRES:
            dsn = stack.enter_context(running_postgres(work / "postgres")).dsn
        temporal = TemporalDevServer(work / "temporal").start()
        stack.callback(temporal.stop)
        book_url = f"{radicale.url}/{radicale.username}/{BOOK}/"
        client = stack.enter_context(radicale.client())
        if args.load == PUT:
            say(f"servers up; uploading {args.cards:,} cards to {book_url}")
            started = time.perf_counter()
            client.timeout = 3600
            book.upload(client, book_url, args.cards, args.seed)
            timings["put_seconds"] = time.perf_counter() - started
        timings["warm_up_seconds"] = warm_up(client, book_url)
        timings.update(time_listing(client, book_url))
        say(f"book of {args.cards:,} cards ready: {timings}")
        overrides = {READ_TIMEOUT: str(args.read_timeout)} if args.read_timeout else {}
        harness = Harness(
            work,
            REPO,
            book_url,
            radicale,
            client,
            temporal.address,
            dsn,
            args.destination,
            overrides,
        )
        tools = harness.tools(args.tools)
        for tool in tools:
            stack.callback(tool.close)
        bench = Bench(book_url, args.cards, args.seed, tools, args.scenarios)
        samples = bench.run_all(client, args.runs, say)
        assert temporal.process is not None
        timings["radicale_peak_rss_mib"] = measure.peak_rss_mib(radicale.process.pid)
        timings["temporal_dev_server_peak_rss_mib"] = measure.peak_rss_mib(temporal.process.pid)
    return samples, timings


def main(argv: list[str]) -> None:
    args = arguments(argv)
    started = datetime.datetime.now(datetime.UTC)
    machine = context.machine()  # its load average before the benchmark adds to it
    if "vdirsyncer" in args.tools:
        say(f"vdirsyncer {vdirsyncer.VERSION}: {vdirsyncer.install()}")
    with tempfile.TemporaryDirectory(prefix="contactsync-bench-") as scratch:
        samples, servers = run(args, Path(scratch))
    table = report.medians(samples)
    print(report.text_table(table, args.runs, args.cards))
    print(f"\nbook and servers: {servers}")
    kind = "carddav-sync" if args.destination == POSTGRES else "carddav-to-carddav"
    stem = args.results / "-".join(filter(None, (kind, str(args.cards), args.label)))
    meta = {
        "command": f"python -m bench.carddav_sync {' '.join(argv)}".strip(),
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "versions": context.versions(),
        "cards": args.cards,
        "runs": args.runs,
        "seed": args.seed,
        "load": args.load,
        "destination": args.destination,
        "read_timeout": args.read_timeout,
        "servers": servers,
    }
    report.write_json(stem.with_suffix(".json"), samples, meta)
    into = "PostgreSQL / local files" if args.destination == POSTGRES else "another Radicale book"
    plot(
        stem.with_suffix(".png"),
        samples,
        f"{args.cards:,} cards on Radicale into {into}, medians of {args.runs} runs "
        f"({started:%Y-%m-%d}, {os.cpu_count()} cores)",
    )
    say(f"wrote {stem}.json and {stem}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
