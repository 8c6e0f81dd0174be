"""vdirsyncer in a virtualenv of its own, outside the clone, syncing the book one process
per command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.carddav_sync import measure
from bench.carddav_sync.sample import SCENARIOS, VDIRSYNCER, Sample

VERSION = "0.21.0"


def cache_dir() -> Path:
    """Where tests/env/setup.sh keeps its tools: outside the clone, shared by worktrees."""
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "contactsync"
    return Path(os.environ.get("CONTACTSYNC_CACHE", default))


def install() -> Path:
    """The vdirsyncer command, installed once per version; later calls only check it."""
    venv = cache_dir() / f"vdirsyncer-{VERSION}"
    command = venv / "bin" / "vdirsyncer"
    if not command.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"vdirsyncer=={VERSION}"], check=True
        )
    found = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, check=True
    ).stdout
    if VERSION not in found:
        raise RuntimeError(f"{command} is {found.strip()}, not {VERSION}: remove {venv}")
    return command


_CONFIG = """\
[general]
status_path = "{status}"

[pair book]
a = "book_remote"
b = "book_copy"
collections = null
conflict_resolution = "a wins"

[storage book_remote]
type = "carddav"
url = "{url}"
username = "{username}"
password = "{password}"
read_only = true

"""
_TO_FILES = """\
[storage book_copy]
type = "filesystem"
path = "{cards}"
fileext = ".vcf"
"""
_TO_CARDDAV = """\
[storage book_copy]
type = "carddav"
url = "{destination}"
username = "{username}"
password = "{password}"
"""


@dataclass
class Vdirsyncer:
    """One CardDAV book mirrored into a directory, or copied into another book
    (``new_book`` makes a fresh one at each reset, ``count_book`` counts its cards), with
    its status under ``root``. A full sync is ``discover`` then ``sync``, times added."""

    command: Path
    root: Path
    book_url: str
    credentials: tuple[str, str]
    radicale_pid: int
    log: Path
    new_book: Callable[[], str] | None = None
    count_book: Callable[[str], int] | None = None
    name: str = VDIRSYNCER
    scenarios: tuple[str, ...] = SCENARIOS
    _destination: str | None = field(default=None, init=False)
    _discover: bool = field(default=False, init=False)

    @property
    def config(self) -> Path:
        return self.root / "config"

    def reset(self) -> None:
        """A fresh start: no status, no cards, so the next sync is a full one."""
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "cards").mkdir(parents=True)
        (self.root / "status").mkdir()
        username, password = self.credentials
        self._destination = self.new_book() if self.new_book else None
        values = {
            "status": self.root / "status",
            "url": self.book_url,
            "username": username,
            "password": password,
            "cards": self.root / "cards",
            "destination": self._destination,
        }
        copy = _TO_CARDDAV if self._destination else _TO_FILES
        self.config.write_text((_CONFIG + copy).format(**values))
        self.config.chmod(0o600)
        self._discover = True

    def sync(self, scenario: str, run: int) -> Sample:
        actions = ["discover", "sync"] if self._discover else ["sync"]
        self._discover = False
        parts = [
            measure.run(
                [str(self.command), "--verbosity", "WARNING", action],
                env={"PATH": os.environ.get("PATH", ""), "VDIRSYNCER_CONFIG": str(self.config)},
                cwd=self.root,
                server_pid=self.radicale_pid,
                log=self.log,
            )
            for action in actions
        ]
        return Sample(
            self.name,
            scenario,
            run,
            seconds=sum(p.seconds for p in parts),
            cpu_seconds=sum(p.cpu_seconds for p in parts),
            peak_rss_mib=max(p.peak_rss_mib for p in parts),
            radicale_cpu_seconds=sum(p.server_cpu_seconds for p in parts),
            written=self.cards(),
        )

    def cards(self) -> int:
        """Cards at the destination (the whole book after every sync)."""
        if self._destination and self.count_book:
            return self.count_book(self._destination)
        return sum(1 for _ in (self.root / "cards").glob("*.vcf"))

    def close(self) -> None:
        pass
