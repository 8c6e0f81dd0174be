"""A region's worker as its own OS process: ``contactsync worker`` configured by environment,
as the operator's Deployment runs it, so a test can ``kill -9`` it and start it again.

The process reads the same files every time it starts (config, keys, Secrets, state dir),
so a restarted worker has the same SQLite state and keys as the one that died.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.servers.process import ManagedProcess, ServerStartError, free_port
from tests.worker_env import WorkerFiles

READY_WITHIN = 30.0
STOP_GRACE = 60.0  # above the worker's own 50 s shutdown grace


def contactsync_command() -> Path:
    """The ``contactsync`` entry point of the interpreter running the tests."""
    command = Path(sys.executable).parent / "contactsync"
    if not command.exists():
        raise FileNotFoundError(f"{command} is missing: install the project into this venv")
    return command


class WorkerProcess:
    """``contactsync worker`` for one region's files; every start logs to the same file."""

    def __init__(self, files: WorkerFiles, log_path: Path) -> None:
        self.files = files
        self.log_path = log_path
        self.starts = 0
        self.metrics_port = 0
        self._process: ManagedProcess | None = None

    @property
    def process(self) -> ManagedProcess:
        if self._process is None:
            raise RuntimeError("the worker was never started")
        return self._process

    async def start(self) -> None:
        """Start a fresh process and return once /readyz answers 200 (it polls by then)."""
        if self._process is not None and not self._process.exited():
            raise RuntimeError(f"the worker is still running (pid {self._process.pid})")
        self.starts += 1
        # A fresh port each time: the dead process's port may still be held for a moment.
        self.metrics_port = free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"--- worker start {self.starts} ---\n")
        self._process = ManagedProcess(
            name=f"worker-{self.files.config.region.name}",
            argv=[str(contactsync_command()), "worker"],
            log_path=self.log_path,
            env=self.files.env(self.metrics_port),
            cwd=self.files.root,
        ).start()
        await self._ready()

    def kill(self) -> None:
        """``kill -9`` of the worker's process group: no shutdown code runs."""
        self.process.kill()

    async def restart(self) -> None:
        """Start again on the same files (state, keys, config) after a kill or a stop."""
        if not self.process.exited():
            raise RuntimeError("restart() follows kill() or stop(): the worker still runs")
        await self.start()

    def stop(self) -> None:
        """SIGTERM, as Kubernetes stops a pod; SIGKILL if it outlives the grace period."""
        if self._process is not None:
            self._process.stop(grace=STOP_GRACE)

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines) if self._process else "(the worker never started)"

    async def _ready(self, within: float = READY_WITHIN) -> None:
        url = f"http://127.0.0.1:{self.metrics_port}/readyz"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            while loop.time() < deadline:
                if self.process.exited():
                    raise ServerStartError(
                        f"the worker exited before it was ready\n{self.log_tail()}"
                    )
                try:
                    if (await client.get(url)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise ServerStartError(f"the worker was not ready within {within:.0f}s\n{self.log_tail()}")


@asynccontextmanager
async def worker_process(files: WorkerFiles, log_path: Path) -> AsyncIterator[WorkerProcess]:
    """A started worker process, stopped when the block ends however it ends."""
    worker = WorkerProcess(files, log_path)
    try:
        await worker.start()
        yield worker
    finally:
        await asyncio.to_thread(worker.stop)
