"""A child process the test suite owns: started in its own process group, stopped for sure."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the test process dies, however it dies.

    Linux clears this when a child changes its credentials, so servers that drop
    to another user also rely on the SIGTERM handler in tests/conftest.py.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the tail of its log."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(
    check: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    process: ManagedProcess | None = None,
    interval: float = 0.2,
) -> None:
    """Poll ``check`` until it holds; fail early if ``process`` died meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.exited():
            raise ServerStartError(f"{what}: process exited early\n{process.log_tail()}")
        try:
            if check():
                return
        except Exception:  # noqa: S110 - any failure just means "not ready yet"
            pass
        time.sleep(interval)
    tail = process.log_tail() if process is not None else ""
    raise ServerStartError(f"{what}: not ready after {timeout:.0f}s\n{tail}")


@dataclass
class ManagedProcess:
    """One server process with its output in a log file."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    _popen: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        environment = dict(os.environ)
        if self.env:
            environment.update(self.env)
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                list(self.argv),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
                cwd=self.cwd,
                start_new_session=True,  # its own group, so children die with it
                preexec_fn=_die_with_parent,
            )
        return self

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    def exited(self) -> bool:
        return self._popen is not None and self._popen.poll() is not None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return f"({self.name}: no log at {self.log_path})"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left after ``grace`` seconds."""
        if self._popen is None or self._popen.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self._popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._popen.wait(timeout=grace)
        # Reap stragglers that outlived the group leader.
        self._signal_group(signal.SIGKILL)

    def kill(self) -> None:
        """``kill -9`` of the whole group, as a crash would."""
        if self._popen is None:
            return
        self._signal_group(signal.SIGKILL)
        self._popen.wait(timeout=10)

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._popen.pid, sig)
