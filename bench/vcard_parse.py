"""Parsing time of one card against its size: a quoted-printable NOTE with soft line breaks.

Linear parsing takes ~8x as long for a card 8x the size; the target is that ratio (at most
10x from 64 KiB to 512 KiB), which holds on any machine. Run:

    .venv/bin/python -m bench.vcard_parse
"""

from __future__ import annotations

import statistics
import time

from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.contacts.vcard import parse_vcard

POLICY = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.NOTE}))


def card(size: int) -> bytes:
    """A vCard 2.1 whose NOTE is ``size`` bytes of quoted-printable in 76-byte soft lines."""
    line = b"=C3=A9t=C3=A9 " * 5 + b"="  # 75 bytes and a soft break
    lines = [line] * (size // len(line))
    note = b"\r\n".join(lines) + b"\r\nend"
    return (
        b"BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Bench\r\n"
        b"NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:" + note + b"\r\nEND:VCARD\r\n"
    )


def seconds(data: bytes, repeat: int = 5) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        parse_vcard(data, POLICY, source="bench", item_id="1")
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def main() -> None:
    small, large = seconds(card(64 * 1024)), seconds(card(512 * 1024))
    print(f"64 KiB: {small * 1000:.1f} ms   512 KiB: {large * 1000:.1f} ms (medians of 5)")
    print(f"ratio: {large / small:.1f}x for 8x the size (target <= 10x)")


if __name__ == "__main__":
    main()
