"""The book written straight into Radicale's storage before Radicale starts: 100,000 cards
take seconds this way, where uploading them takes Radicale half an hour or more.

The layout is Radicale's multifilesystem storage (``radicale.storage.multifilesystem``), as
a PUT of the whole collection leaves it: ``collection-root/<user>/<book>/`` holding
``.Radicale.props`` (the collection's tag) and one ``<UID>.vcf`` per card. Radicale parses
each file and writes its item cache the first time the card is read, which the harness's
warm-up does, so clients then see the book a PUT would have made (``seed_check`` compares
the two as served).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.carddav_sync import book

PROPS = {"tag": "VADDRESSBOOK"}


def collection_dir(storage: Path, user: str, name: str) -> Path:
    """Where Radicale keeps ``/<user>/<name>/`` under its ``filesystem_folder``."""
    return storage / "collection-root" / user / name


def write(storage: Path, user: str, name: str, cards: int, seed: int) -> Path:
    """Write the book's ``cards`` cards as ``/<user>/<name>/``; Radicale must not be running."""
    directory = collection_dir(storage, user, name)
    directory.mkdir(parents=True)
    (directory / ".Radicale.props").write_text(json.dumps(PROPS))
    for index in range(cards):
        (directory / book.href(index)).write_bytes(book.card(index, seed).encode())
    return directory
