"""Check that a book written into Radicale's storage (``radicale_files``) is served as the
same book uploaded by PUT: the same members, etags and card text, and sync-collection lists
both alike. ``python -m bench.carddav_sync.seed_check [--cards N]``; exits 1 on a difference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx
from tests.servers.radicale import USERNAME, running_radicale

from bench.carddav_sync import book, radicale_files
from bench.carddav_sync.scenarios import ALL_CARDS, SYNC_COLLECTION
from contactsync_worker.multistatus import parse_multistatus


def served(client: httpx.Client, url: str, query: str) -> list[tuple[str, str | None, str | None]]:
    """Each member's name, etag and card as the report returns them, by name."""
    response = client.request("REPORT", url, content=query, headers={"Depth": "1"}, timeout=600)
    response.raise_for_status()
    members = parse_multistatus(response.content).responses
    return sorted((r.href.rsplit("/", 1)[1], r.etag, r.address_data) for r in members)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.carddav_sync.seed_check")
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="contactsync-seed-check-") as scratch:
        work = Path(scratch)
        radicale_files.write(work / "collections", USERNAME, "files", args.cards, args.seed)
        with running_radicale(work) as radicale, radicale.client() as client:
            urls = {how: f"{radicale.url}/{radicale.username}/{how}/" for how in ("put", "files")}
            book.upload(client, urls["put"], args.cards, args.seed)
            differences = 0
            for name, query in (
                ("addressbook-query", ALL_CARDS),
                ("sync-collection", SYNC_COLLECTION),
            ):
                put, files = (served(client, urls[how], query) for how in ("put", "files"))
                same = put == files and len(put) == args.cards
                differences += not same
                print(
                    f"{name}: {len(put)} members by PUT, {len(files)} written as files: "
                    f"{'the same' if same else 'DIFFERENT'}"
                )
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
