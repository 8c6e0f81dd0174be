"""vdirsyncer in a virtualenv of its own, outside the clone, and its config for one book."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
b = "book_local"
collections = null
conflict_resolution = "a wins"

[storage book_remote]
type = "carddav"
url = "{url}"
username = "{username}"
password = "{password}"
read_only = true

[storage book_local]
type = "filesystem"
path = "{cards}"
fileext = ".vcf"
"""


@dataclass(frozen=True)
class VdirsyncerRun:
    """One CardDAV book mirrored into a directory, with its status under ``root``."""

    command: Path
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    def reset(self, url: str, username: str, password: str) -> None:
        """A fresh start: no status, no cards, so the next sync is a full one."""
        shutil.rmtree(self.root, ignore_errors=True)
        (self.root / "cards").mkdir(parents=True)
        (self.root / "status").mkdir()
        self.config.write_text(
            _CONFIG.format(
                status=self.root / "status",
                url=url,
                username=username,
                password=password,
                cards=self.root / "cards",
            )
        )
        self.config.chmod(0o600)

    def argv(self, action: str) -> list[str]:
        return [str(self.command), "--verbosity", "WARNING", action]

    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "VDIRSYNCER_CONFIG": str(self.config)}

    def cards(self) -> int:
        return sum(1 for _ in (self.root / "cards").glob("*.vcf"))
