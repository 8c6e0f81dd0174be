"""A real Radicale CardDAV server on loopback, with its config, users and storage in a temp dir."""

from __future__ import annotations

import dataclasses
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.servers.process import ManagedProcess, free_port, port_open, wait_until

USERNAME = "contactsync"
PASSWORD = "radicale-test-password"

_CONFIG = """\
[server]
hosts = {host}:{port}

[auth]
type = htpasswd
htpasswd_filename = {htpasswd}
# Plain text keeps the suite free of a bcrypt dependency; the file never leaves the temp dir.
htpasswd_encryption = plain
# Tests that prove a wrong password is refused should not wait a second each.
delay = 0

[rights]
type = owner_only

[storage]
filesystem_folder = {collections}

[web]
type = none

[logging]
level = info
"""

_MKCOL_ADDRESSBOOK = """\
<?xml version="1.0" encoding="utf-8"?>
<D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">
  <D:set><D:prop>
    <D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>
    <D:displayname>{name}</D:displayname>
  </D:prop></D:set>
</D:mkcol>
"""


@dataclass(frozen=True)
class RadicaleServer:
    """Where a running Radicale listens and whom it lets in."""

    url: str
    username: str
    password: str
    process: ManagedProcess
    htpasswd: Path | None = None  # the users file, read by Radicale at every login

    def set_password(self, username: str, password: str) -> RadicaleServer:
        """Add ``username``, or change its password, and return the server as that user sees
        it. Radicale reads the users file at every login: no restart."""
        assert self.htpasswd is not None
        users = dict(line.split(":", 1) for line in self.htpasswd.read_text().splitlines())
        users[username] = password
        self.htpasswd.write_text("".join(f"{user}:{pw}\n" for user, pw in users.items()))
        return dataclasses.replace(self, username=username, password=password)

    def client(self) -> httpx.Client:
        """An HTTP client logged in as the test user; close it (or use ``with``)."""
        return httpx.Client(base_url=self.url, auth=(self.username, self.password), timeout=10.0)

    def create_addressbook(self, name: str | None = None) -> str:
        """Make a fresh address book under the user's principal and return its URL."""
        name = name or f"book-{uuid.uuid4().hex[:12]}"
        path = f"/{self.username}/{name}/"
        with self.client() as client:
            response = client.request(
                "MKCOL",
                path,
                content=_MKCOL_ADDRESSBOOK.format(name=name),
                headers={"Content-Type": "application/xml; charset=utf-8"},
            )
        if response.status_code != 201:
            raise RuntimeError(f"MKCOL {path} -> {response.status_code}: {response.text}")
        return f"{self.url}{path}"


@contextmanager
def running_radicale(workdir: Path, host: str = "127.0.0.1") -> Iterator[RadicaleServer]:
    """Start Radicale with its state under ``workdir``; stop it when the block ends.
    ``host``: the address it listens on (the pod network's host address for pods)."""
    port = free_port()
    htpasswd = workdir / "users"
    htpasswd.write_text(f"{USERNAME}:{PASSWORD}\n")
    htpasswd.chmod(0o600)
    config = workdir / "config"
    config.write_text(
        _CONFIG.format(host=host, port=port, htpasswd=htpasswd, collections=workdir / "collections")
    )
    # --config replaces the default search path, so /etc and ~ cannot leak in.
    process = ManagedProcess(
        name="radicale",
        argv=[sys.executable, "-m", "radicale", "--config", str(config)],
        log_path=workdir / "radicale.log",
        cwd=workdir,
    ).start()
    try:
        wait_until(lambda: port_open(port, host), timeout=30, what="radicale", process=process)
        yield RadicaleServer(
            url=f"http://{host}:{port}",
            username=USERNAME,
            password=PASSWORD,
            process=process,
            htpasswd=htpasswd,
        )
    finally:
        process.stop()
