"""Time a full sync by one worker process and by two sharing its pages:
``python -m bench.scale_out [--cards N] [--runs R] [--latency-ms L]``.

Starts Radicale, PostgreSQL and a Temporal dev server on loopback (the test suite's helpers,
state in a temp dir), uploads the book, and puts a proxy in front of Radicale that adds
``L`` ms to every request and drops the cards from sync-collection reports, so the source
fetches each page's cards by multiget: a server without cards in its listing, across a WAN.
Then ``R`` full syncs of each set-up, alternating, each checked; then the guard check.
The table goes to stdout; progress to stderr; every sample as JSON to
bench/results/scale-out-N.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from tests.servers.postgres import running_postgres
from tests.servers.process import free_port
from tests.servers.radicale import running_radicale
from tests.servers.temporal import TemporalDevServer

from bench.carddav_sync import book
from bench.machine import machine, versions
from bench.scale_out import report
from bench.scale_out.proxy import LatencyProxy
from bench.scale_out.region import DEFAULT_SETUPS, ONE, SETUPS, TWO, Setup
from bench.scale_out.runs import Bench

REPO = Path(__file__).resolve().parents[2]
# Read once before the first run: Radicale writes a sync-token history entry per card at the
# book's first sync-collection (seconds of its CPU), and caches the cards it has read.
_WARM_UP = (
    '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:"><D:sync-token/>'
    "<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>",
    '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/>'
    "</D:prop></C:addressbook-query>",
)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__)
    parser.add_argument("--cards", type=int, default=5_000, help="cards in the book")
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each set-up")
    parser.add_argument(
        "--latency-ms", type=float, default=50.0, help="added to every request to the server"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated cards")
    parser.add_argument(
        "--setups",
        type=setups,
        default=DEFAULT_SETUPS,
        help=f"comma-separated, {ONE.name} first; of {', '.join(SETUPS)} "
        f"(default {','.join(s.name for s in DEFAULT_SETUPS)})",
    )
    parser.add_argument(
        "--warm-up",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one untimed one-worker run first, so no timed run meets cold servers",
    )
    parser.add_argument(
        "--guard-check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after the runs, fold 30%% of the contacts and expect the guard to stop the sync",
    )
    parser.add_argument("--results", type=Path, default=report.RESULTS, help="output dir")
    return parser.parse_args(argv)


def setups(text: str) -> tuple[Setup, ...]:
    names = text.split(",")
    unknown = [n for n in names if n not in SETUPS]
    if unknown or names[0] != ONE.name or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(
            f"expected {ONE.name} then others of {', '.join(SETUPS)}, each once"
        )
    return tuple(SETUPS[n] for n in names)


def prepare_book(client: httpx.Client, url: str, cards: int, seed: int) -> None:
    client.timeout = httpx.Timeout(600.0)
    book.upload(client, url, cards, seed)
    for query in _WARM_UP:
        response = client.request("REPORT", url, content=query, headers={"Depth": "1"})
        response.raise_for_status()


async def run(args: argparse.Namespace, argv: list[str]) -> int:
    check_guard = args.guard_check and TWO in args.setups
    started = datetime.datetime.now(datetime.UTC)
    with tempfile.TemporaryDirectory(prefix="contactsync-bench-") as scratch, ExitStack() as stack:
        work = Path(scratch)
        for name in ("radicale", "postgres", "regions"):
            (work / name).mkdir()
        radicale = stack.enter_context(running_radicale(work / "radicale"))
        postgres = stack.enter_context(running_postgres(work / "postgres"))
        temporal = TemporalDevServer(work / "temporal").start()
        stack.callback(temporal.stop)
        assert temporal.process is not None
        path = f"/{radicale.username}/bench/"
        say(f"servers up; uploading {args.cards:,} cards to {radicale.url}{path}")
        with radicale.client() as client:
            prepare_book(client, f"{radicale.url}{path}", args.cards, args.seed)
        proxy = LatencyProxy(radicale.url, args.latency_ms / 1000)
        port = free_port()
        runner = await proxy.start(port)
        try:
            bench = Bench(
                root=work / "regions",
                cards=args.cards,
                seed=args.seed,
                book_url=f"{radicale.url}{path}",
                proxied_url=f"http://127.0.0.1:{port}{path}",
                dav_credentials={"username": radicale.username, "password": radicale.password},
                proxy=proxy,
                temporal_address=temporal.address,
                dsn=postgres.dsn,
                servers={
                    "radicale": [radicale.process.pid],
                    "postgres": [postgres.process.pid],
                    "temporal": [temporal.process.pid],
                },
            )
            samples = await bench.run_all(args.setups, args.runs, args.warm_up, say)
            guard = await bench.guard_check(say) if check_guard else None
        finally:
            await runner.cleanup()
        context: dict[str, Any] = {
            "command": f"python -m bench.scale_out {' '.join(argv)}".strip(),
            "started": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "versions": versions(("radicale", "temporalio"), postgres.dsn),
            "cards": args.cards,
            "runs": args.runs,
            "latency_ms": args.latency_ms,
            "seed": args.seed,
            "guard_check": guard,
        }
    print(report.text_table(samples, args.cards, args.latency_ms))
    if guard is not None:
        print(
            f"\nguard check: {guard['folded_cards']:,} folds, run ended {guard['outcome']}, "
            f"{guard['rows_left']:,} rows left (at least {guard['least_rows_allowed']:,} "
            f"allowed), {guard['duplicate_emails']} duplicate emails"
        )
    path_out = args.results / f"scale-out-{args.cards}.json"
    report.write_json(path_out, samples, context)
    say(f"wrote {path_out}")
    if guard is not None and guard["problems"]:
        say("GUARD CHECK FAILED: " + "; ".join(guard["problems"]))
        return 1
    return 0


def main(argv: list[str]) -> int:
    return asyncio.run(run(arguments(argv), argv))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
