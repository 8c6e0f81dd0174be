"""A region's worker as the tests run it: config, Secrets and keys laid out on disk the way
the operator mounts them, the real worker code in this process, real servers behind it."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client

from contactsync_api import runtime
from contactsync_api.spec import RegionConfig
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring
from contactsync_worker.main import run
from contactsync_worker.settings import WorkerSettings, settings_from_env


@dataclass
class WorkerFiles:
    """The pod's mounts, in a temporary directory."""

    root: Path
    config: RegionConfig
    task_queue: str
    temporal_address: str
    temporal_namespace: str = "default"
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    def write_secret(self, name: str, data: Mapping[str, str]) -> None:
        directory = self.secrets_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        for key, value in data.items():
            (directory / key).write_text(value)

    def add_key(self, key_id: str) -> None:
        """A new random key, unless the region already has one of that id (its pseudonyms
        and histories depend on it)."""
        self.keys_dir.mkdir(parents=True, exist_ok=True)
        path = self.keys_dir / key_id
        if not path.exists():
            path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())

    def keyring(self) -> Keyring:
        return Keyring.from_directory(self.keys_dir)

    def env(self, metrics_port: int) -> dict[str, str]:
        """The worker's environment as the operator sets it, with the config file written.

        Optional variables are set empty unless the test sets them, so nothing in the test
        runner's own environment (a TLS dir, an API key) reaches the worker.
        """
        config_file = self.root / "config" / runtime.CONFIG_FILE_NAME
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(self.config.model_dump_json(by_alias=True, exclude_none=True))
        return {
            runtime.ENV_TEMPORAL_TLS_DIR: "",
            runtime.ENV_TEMPORAL_API_KEY_FILE: "",
            runtime.ENV_TEMPORAL_PLAINTEXT: "true",  # the test Temporal has no TLS
            runtime.ENV_REGION: self.config.region.name,
            runtime.ENV_TASK_QUEUE: self.task_queue,
            runtime.ENV_CONFIG_FILE: str(config_file),
            runtime.ENV_KEYS_DIR: str(self.keys_dir),
            runtime.ENV_SECRETS_DIR: str(self.secrets_dir),
            runtime.ENV_STATE_DIR: str(self.root / "state"),
            runtime.ENV_METRICS_PORT: str(metrics_port),
            runtime.ENV_TEMPORAL_ADDRESS: self.temporal_address,
            runtime.ENV_TEMPORAL_NAMESPACE: self.temporal_namespace,
            **self.extra_env,
        }

    def settings(self, metrics_port: int) -> WorkerSettings:
        return settings_from_env(self.env(metrics_port))

    async def client(self) -> Client:
        return await Client.connect(
            self.temporal_address,
            namespace=self.temporal_namespace,
            data_converter=data_converter(self.keyring()),
        )


@asynccontextmanager
async def running_worker(files: WorkerFiles, metrics_port: int) -> AsyncIterator[asyncio.Task[Any]]:
    """The worker's own ``run`` in a task of this event loop, ready before the body runs;
    stopped as SIGTERM would. A worker that fails to start fails the test at once."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(files.settings(metrics_port), stop, handle_signals=False))
    await _ready(task, metrics_port)
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


async def _ready(task: asyncio.Task[Any], port: int, within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with httpx.AsyncClient(timeout=2.0) as client:
        while asyncio.get_running_loop().time() < deadline:
            if task.done():
                task.result()  # raises what stopped the worker
                raise AssertionError("the worker stopped before it was ready")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"the worker was not ready within {within}s")
