"""The least memory a Python Temporal worker holds: a worker of one no-op workflow and one
no-op activity, after it has run a workflow, on a Temporal dev server on loopback.

    .venv/bin/python -m bench.temporal_worker_floor [--runs N]

No ContactSync code is imported in the measured process, so the figure is the floor under
any worker built on the same SDK: the interpreter, temporalio and its Rust core with its
threads. Each run is a fresh process; the figures are its VmRSS after the workflow and
its peak (VmHWM), from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Worker

from bench.machine import machine
from bench.temporal_floor_workflows import Floor, SandboxedFloor, noop

KINDS: dict[str, type[Floor] | type[SandboxedFloor]] = {"plain": Floor, "sandboxed": SandboxedFloor}


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _probe(address: str, kind: str) -> dict[str, float]:
    imported = _status_mib("VmRSS")
    client = await Client.connect(address)
    queue = f"floor-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[KINDS[kind]], activities=[noop]):
        await client.execute_workflow(KINDS[kind].run, "x", id=queue, task_queue=queue)
        running = _status_mib("VmRSS")
    return {
        "imported_mib": imported,
        "after_a_workflow_mib": running,
        "peak_mib": _status_mib("VmHWM"),
    }


FIGURES = ("imported_mib", "after_a_workflow_mib", "peak_mib")


def _measure(address: str, kind: str) -> dict[str, float]:
    """One fresh process's figures."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.temporal_worker_floor", "--probe", address, kind],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.temporal_worker_floor")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes to measure")
    args = parser.parse_args(argv)
    from tests.servers.temporal import TemporalDevServer

    with tempfile.TemporaryDirectory(prefix="contactsync-floor-") as scratch:
        server = TemporalDevServer(Path(scratch)).start()
        try:
            # Alternated, so both kinds see the same machine.
            samples: list[dict[str, float | str]] = [
                {"kind": kind, **_measure(server.address, kind)}
                for _ in range(args.runs)
                for kind in KINDS
            ]
        finally:
            server.stop()
    print(json.dumps({"machine": machine(), "samples": samples}, indent=2))
    for kind in KINDS:
        mine = [s for s in samples if s["kind"] == kind]
        medians = {k: statistics.median(float(s[k]) for s in mine) for k in FIGURES}
        print(f"{kind}: " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items()), file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--probe"]:
        print(json.dumps(asyncio.run(_probe(sys.argv[2], sys.argv[3]))), flush=True)
        # The SDK's core threads now and then crash the interpreter's teardown, after the
        # figures are out: leave without it.
        os._exit(0)
    else:
        main(sys.argv[1:])
