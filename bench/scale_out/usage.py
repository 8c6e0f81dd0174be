"""CPU each party burned during a run, from /proc: the workers, Radicale, PostgreSQL, the
Temporal dev server and this process (the proxy and the client). On a shared machine of two
cores this says whether a run was waiting on I/O or on CPU."""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
SELF = "bench (proxy, client)"


def tree_cpu_seconds(pid: int) -> float:
    """User + system time of ``pid``, the children it reaped and its live descendants
    (PostgreSQL's backends are children of the postmaster). 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    own = sum(int(f) for f in fields[11:15]) / _TICKS  # utime, stime, cutime, cstime
    return own + sum(tree_cpu_seconds(child) for child in children)


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def snapshot(pids: Mapping[str, list[int]]) -> dict[str, float]:
    """CPU seconds so far of each named group of processes, and of this one."""
    taken = {name: sum(tree_cpu_seconds(p) for p in group) for name, group in pids.items()}
    taken[SELF] = self_cpu_seconds()
    return taken


def spent(before: Mapping[str, float], after: Mapping[str, float]) -> dict[str, float]:
    return {name: round(after[name] - before.get(name, 0.0), 2) for name in after}
