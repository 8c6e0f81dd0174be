"""One whole process, timed: wall time, its CPU, its peak memory, and the server's CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

MIB = 2**20
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_SPAWN = Path(__file__).with_name("spawn.py")


@dataclass(frozen=True)
class Measured:
    seconds: float  # wall time, process start to exit
    cpu_seconds: float  # user + system of the process (and any children it waited for)
    peak_rss_mib: float  # the kernel's high-water mark of its resident memory
    server_cpu_seconds: float  # CPU the observed server burned meanwhile
    stdout: str


def cpu_seconds(pid: int) -> float:
    """User + system time of a running process, from /proc (utime and stime, in ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def peak_rss_mib(pid: int) -> float:
    """VmHWM of a running process (a server's peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MIB
    raise RuntimeError(f"no VmHWM for pid {pid}")


def run(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, server_pid: int, log: Path
) -> Measured:
    """Run ``argv`` to completion through the small launcher (``spawn``); fail with its log
    when it fails."""
    server_before = cpu_seconds(server_pid)
    with tempfile.NamedTemporaryFile(suffix=".json") as result, log.open("ab") as err:
        process = subprocess.run(
            [sys.executable, "-S", str(_SPAWN), result.name, "--", *argv],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=err,
            check=False,
        )
        if process.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"{argv[0]} exited {process.returncode}\n{tail}")
        usage = json.loads(Path(result.name).read_text())
    return Measured(
        seconds=usage["seconds"],
        cpu_seconds=usage["cpu_seconds"],
        peak_rss_mib=usage["peak_rss_kib"] * 1024 / MIB,
        server_cpu_seconds=cpu_seconds(server_pid) - server_before,
        stdout=process.stdout.decode(),
    )
