"""ContactSync as deployed: the region's worker started once as its own long-lived process
(``contactsync worker``, ready before the first sync) and each sync triggered by starting
the workflow, as a schedule does; timed from the start to the result.

The worker's figures are for the sync alone: its CPU from /proc, its peak resident memory
after the kernel's high-water mark is reset to its current size (``clear_refs``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client
from tests.servers.process import free_port, wait_until

from bench.carddav_sync.bench_worker import PLAIN, plain_converter
from bench.carddav_sync.contactsync import Region, history_events
from bench.carddav_sync.measure import MIB, cpu_seconds
from bench.carddav_sync.sample import SCENARIOS, Sample
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary

_STOP_SECONDS = 60


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {key} for pid {pid}")


def reset_peak(pid: int) -> None:
    """Set the process's VmHWM back to its VmRSS (Linux 4.0+), so the next peak is new."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@dataclass
class Deployed:
    """``plain``: the worker and the client without the payload codec (bench_worker)."""

    name: str
    region: Region
    repo: Path
    radicale_pid: int
    log: Path
    plain: bool = False
    scenarios: tuple[str, ...] = SCENARIOS
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False)
    _client: Client | None = field(default=None, init=False)
    # One event loop for the tool's life: the client stays connected from sync to sync.
    _loop: asyncio.Runner = field(default_factory=asyncio.Runner, init=False)

    def reset(self) -> None:
        """A new region, and a new worker for it, ready and connected before the sync."""
        self._stop()
        self.region.reset()
        port = free_port()
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bench.carddav_sync.bench_worker"],
                env=self.region.env(port, **{PLAIN: "1" if self.plain else ""}),
                cwd=self.repo,
                stdout=log,
                stderr=log,
            )
        wait_until(lambda: self._running() and _ready(port), timeout=60, what=f"{self.name}")
        self._client = self._loop.run(self._connect())

    def sync(self, scenario: str, run: int) -> Sample:
        assert self._process is not None, "reset first"
        pid = self._process.pid
        workflow_id = self.region.next_workflow_id()
        reset_peak(pid)
        idle_kib = _status_kib(pid, "VmRSS")
        cpu_before, radicale_before = cpu_seconds(pid), cpu_seconds(self.radicale_pid)
        started = time.perf_counter()
        summary = self._loop.run(self._execute(workflow_id))
        seconds = time.perf_counter() - started
        cpu, radicale = cpu_seconds(pid), cpu_seconds(self.radicale_pid)
        return Sample(
            self.name,
            scenario,
            run,
            seconds=seconds,
            cpu_seconds=cpu - cpu_before,
            peak_rss_mib=_status_kib(pid, "VmHWM") * 1024 / MIB,
            radicale_cpu_seconds=radicale - radicale_before,
            sync_seconds=seconds,
            history_events=history_events(self.region.temporal_address, workflow_id),
            written=summary.created + summary.updated,
            idle_rss_mib=idle_kib * 1024 / MIB,
        )

    def close(self) -> None:
        self._stop()
        self._loop.close()

    async def _connect(self) -> Client:
        files = self.region.files
        if not self.plain:
            return await files.client()
        return await Client.connect(
            files.temporal_address,
            namespace=files.temporal_namespace,
            data_converter=plain_converter(),
        )

    async def _execute(self, workflow_id: str) -> SyncSummary:
        assert self._client is not None
        namespace, name = self.region.files.config.contact_sync.split("/", 1)
        summary: SyncSummary = await self._client.execute_workflow(
            SYNC_WORKFLOW,
            SyncInput(RegionRunRequest(namespace, name, self.region.files.config.region.name)),
            id=workflow_id,
            task_queue=self.region.files.task_queue,
            result_type=SyncSummary,
        )
        return summary

    def _running(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"{self.name}: the worker exited {self._process.returncode}")
        return True

    def _stop(self) -> None:
        """As Kubernetes stops a pod: SIGTERM, then wait."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=_STOP_SECONDS)
            self._process = None
