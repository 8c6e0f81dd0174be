"""Run the side-by-side benchmark: ``python -m bench.carddav_sync [--cards N] [--runs N]``.

Starts Radicale, PostgreSQL and a Temporal dev server on loopback (the test suite's helpers,
state in a temp dir), installs vdirsyncer into its own virtualenv outside the clone, uploads
the book, runs every scenario ``--runs`` times and stops the servers. The table goes to
stdout; progress to stderr; JSON and a plot to bench/results/.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

from tests.servers.postgres import running_postgres
from tests.servers.radicale import running_radicale
from tests.servers.temporal import TemporalDevServer, temporal_cli

from bench.carddav_sync import book, measure, report, vdirsyncer
from bench.carddav_sync.contactsync import ContactSyncRun
from bench.carddav_sync.scenarios import Bench
from bench.machine import machine

REPO = Path(__file__).resolve().parents[2]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def versions() -> dict[str, str]:
    temporal = subprocess.run(
        [str(temporal_cli()), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "vdirsyncer": vdirsyncer.VERSION,
        "radicale": importlib.metadata.version("radicale"),
        "temporalio": importlib.metadata.version("temporalio"),
        "temporal": temporal,
    }


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.carddav_sync", description=__doc__)
    parser.add_argument("--cards", type=int, default=10_000, help="cards in the book")
    parser.add_argument("--runs", type=int, default=3, help="runs of each scenario per tool")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated cards")
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="output dir")
    return parser.parse_args(argv)


def main(argv: list[str]) -> None:
    args = arguments(argv)
    started = datetime.datetime.now(datetime.UTC)
    say(f"vdirsyncer {vdirsyncer.VERSION}: {vdirsyncer.install()}")
    with tempfile.TemporaryDirectory(prefix="contactsync-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        for name in ("radicale", "postgres", "runs"):
            (work / name).mkdir()
        radicale = stack.enter_context(running_radicale(work / "radicale"))
        postgres = stack.enter_context(running_postgres(work / "postgres"))
        temporal = TemporalDevServer(work / "temporal").start()
        stack.callback(temporal.stop)
        book_url = f"{radicale.url}/{radicale.username}/bench/"
        say(f"servers up; uploading {args.cards:,} cards to {book_url}")
        with radicale.client() as client:
            client.timeout = 600
            book.upload(client, book_url, args.cards, args.seed)
            bench = Bench(
                book_url=book_url,
                cards=args.cards,
                seed=args.seed,
                radicale_pid=radicale.process.pid,
                temporal_address=temporal.address,
                repo=REPO,
                log=work / "runs.log",
                vdirsyncer=vdirsyncer.VdirsyncerRun(vdirsyncer.install(), work / "vdirsyncer"),
                contactsync=ContactSyncRun(
                    work / "contactsync",
                    temporal.address,
                    {"username": radicale.username, "password": radicale.password},
                    postgres.dsn,
                ),
                dav_credentials=(radicale.username, radicale.password),
            )
            bench.warm_up(client)
            samples = bench.run_all(client, args.runs, say)
        assert temporal.process is not None
        servers = {
            "radicale_peak_rss_mib": measure.peak_rss_mib(radicale.process.pid),
            "temporal_dev_server_peak_rss_mib": measure.peak_rss_mib(temporal.process.pid),
        }
    table = report.medians(samples)
    print(report.text_table(table, args.runs, args.cards))
    print(
        f"\nRadicale peak RSS {servers['radicale_peak_rss_mib']:.0f} MiB, "
        f"Temporal dev server {servers['temporal_dev_server_peak_rss_mib']:.0f} MiB"
    )
    stem = args.results / f"carddav-sync-{args.cards}"
    context = {
        "command": f"python -m bench.carddav_sync {' '.join(argv)}".strip(),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "cards": args.cards,
        "runs": args.runs,
        "seed": args.seed,
        "servers": servers,
    }
    report.write_json(stem.with_suffix(".json"), samples, context)
    report.plot(
        stem.with_suffix(".png"),
        samples,
        f"{args.cards:,} cards on Radicale, medians of {args.runs} runs "
        f"({started:%Y-%m-%d}, {os.cpu_count()} cores)",
    )
    say(f"wrote {stem}.json and {stem}.png")


if __name__ == "__main__":
    main(sys.argv[1:])
