"""How much memory paging through a whole file source takes, measured in a fresh process.

``python -m tests.memory_probe csv|jsonl|vcf PATH PAGE_SIZE [--traced]`` reads every page of
the file and prints JSON: the records read, the seconds it took and ``peak_rss_growth``,
how far the peak resident set rose above what the process had reached before the first
page (bytes); with ``--traced`` also ``traced_peak``, tracemalloc's peak (slow: ~5x).

A fresh process, because a peak only ever grows; resident memory, because that is what a
pod's limit counts, SQLite's and OpenSSL's allocations included (tracemalloc sees only
Python's). :func:`write_people` makes the files, the same for every measurement.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from contactsync_api.endpoints.files import FileSourceSpec
from contactsync_api.fields import ContactField as F
from contactsync_worker.contacts.model import FieldPolicy
from contactsync_worker.sources.files import CsvSource, JsonLinesSource, VcfSource

POLICY = FieldPolicy(allowed=frozenset({F.FULL_NAME, F.EMAILS, F.PHONES, F.TITLE}))
_NOTE = "n" * 80  # a column the policy drops, as real exports have them


def write_people(path: Path, kind: str, *, size: int = 0, records: int = 0) -> int:
    """Write people to ``path``: ``records`` of them, or until it holds ``size`` bytes.
    Returns how many."""
    count = 0
    with path.open("w", encoding="utf-8") as file:
        if kind == "csv":
            file.write("id,fullName,emails,phones,title,note\n")
        while count < records or file.tell() < size:
            file.write(_record(kind, count))
            count += 1
    return count


def _record(kind: str, n: int) -> str:
    name = f"Person {n} Müller-Lüdenscheidt"
    emails = [f"person{n}@example.test", f"p.{n}@corp.example.test"]
    phone = f"+49 30 {n:08}"
    if kind == "csv":
        # A quoted cell with a line break: records are not lines.
        return f'p{n},"{name}",{";".join(emails)},{phone},Engineer,"{_NOTE}\nsecond line"\n'
    if kind == "vcf":
        lines = [
            "BEGIN:VCARD",
            "VERSION:3.0",
            f"UID:p{n}",
            f"FN:{name}",
            *(f"EMAIL;TYPE=INTERNET:{email}" for email in emails),
            f"TEL;TYPE=CELL:{phone}",
            "TITLE:Engineer",
            f"NOTE:{_NOTE}",
            "END:VCARD",
        ]
        return "".join(f"{line}\r\n" for line in lines)
    record = {
        "id": f"p{n}",
        "fullName": name,
        "emails": emails,
        "phones": [phone],
        "title": "Engineer",
        "note": _NOTE,
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


async def _read_all(source: CsvSource | JsonLinesSource | VcfSource) -> int:
    records = 0
    cursor = None
    try:
        while True:
            page = await source.fetch(cursor, None)
            records += len(page.contacts) + len(page.quarantined)
            if page.complete:
                return records
            cursor = page.cursor
    finally:
        await source.aclose()


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def main(kind: str, path: str, page_size: str, *flags: str) -> None:
    kinds: dict[str, type[CsvSource | JsonLinesSource | VcfSource]] = {
        "csv": CsvSource,
        "jsonl": JsonLinesSource,
        "vcf": VcfSource,
    }
    source = kinds[kind](
        "memory-probe", FileSourceSpec(path=path), POLICY, page_size=int(page_size)
    )
    traced = "--traced" in flags
    if traced:
        tracemalloc.start()
    before = _peak_rss()
    started = time.perf_counter()
    records = asyncio.run(_read_all(source))
    result = {
        "records": records,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_growth": _peak_rss() - before,
    }
    if traced:
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
