"""Readings of a running process from /proc, and of the operator's own metrics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.carddav_sync.measure import MIB, cpu_seconds, peak_rss_mib


def rss_mib(pid: int) -> float:
    """VmRSS of a running process: its resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MIB
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass(frozen=True)
class Reading:
    at: float  # seconds since the epoch
    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float


def read(pid: int, at: float) -> Reading:
    return Reading(at, cpu_seconds(pid), rss_mib(pid), peak_rss_mib(pid))


_SAMPLE = re.compile(r"^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$")


def operator_metrics(port: int) -> dict[str, float]:
    """The operator's reconcile counters and latency sums (prometheus text), by series."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        name = match.group(1) if match else ""
        if name.startswith("contactsync_operator_reconcile") and not name.endswith("_created"):
            assert match is not None
            found[name + (match.group(2) or "")] = float(match.group(3))
    return found
