"""Demo data for a local run: a Radicale CardDAV server on the manifest's loopback address,
its address books created, the sources filled with sample contacts when they are created.

Only for ``contactsync run --demo``: it refuses any URL that is not plain http on loopback,
so it can never touch a real server. Its books live in the run's state directory, so a
second run on that state finds what the first left (and what a person changed there since).
"""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from contactsync_api.manifest import ContactSync
from contactsync_cli.local import ends_with_this_process

_CONFIG = """\
[server]
hosts = {host}:{port}
[auth]
type = htpasswd
htpasswd_filename = {users}
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = {storage}
[web]
type = none
[logging]
level = warning
"""
_ADDRESS_BOOK = (
    '<?xml version="1.0" encoding="utf-8"?><D:mkcol xmlns:D="DAV:" '
    'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:set><D:prop><D:resourcetype><D:collection/>'
    "<C:addressbook/></D:resourcetype></D:prop></D:set></D:mkcol>"
)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class DemoError(RuntimeError):
    """The manifest cannot be run against demo data; the message says why."""


@dataclass
class DemoServer:
    """The running demo Radicale and the credentials of its one user."""

    username: str
    password: str
    process: subprocess.Popen[bytes]
    books: list[str] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)  # sources created, and filled, by this run

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _endpoints(resource: ContactSync) -> tuple[list[str], list[str]]:
    spec = resource.spec
    sources = [s.carddav.url for s in spec.sources if s.carddav]
    destinations = [d.carddav.url for d in spec.destinations if d.carddav]
    for url in [*sources, *destinations]:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname not in _LOOPBACK:
            raise DemoError(f"--demo serves only http:// on loopback; {url} is not")
    if not sources:
        raise DemoError("--demo needs a CardDAV source to fill with sample contacts")
    return sources, destinations


def start_demo(resource: ContactSync, samples: Path, workdir: Path) -> DemoServer:
    sources, destinations = _endpoints(resource)
    first = urlsplit(sources[0])
    host, port = first.hostname or "127.0.0.1", first.port or 80
    username = first.path.strip("/").split("/")[0]
    password = secrets.token_urlsafe(16)
    users = workdir / "users"
    users.touch(mode=0o600)
    users.write_text(f"{username}:{password}\n")
    config = workdir / "radicale.conf"
    config.write_text(_CONFIG.format(host=host, port=port, users=users, storage=workdir / "dav"))
    log = (workdir / "radicale.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=ends_with_this_process,
    )
    server = DemoServer(username, password, process)
    try:
        _wait_for(host, port, process)
        with httpx.Client(auth=(username, password), timeout=10) as client:
            created = set()
            for url in dict.fromkeys([*sources, *destinations]):
                response = client.request("MKCOL", url, content=_ADDRESS_BOOK)
                if response.status_code not in (201, 405):  # 405: it exists already
                    raise DemoError(
                        f"could not create the address book {url}: {response.status_code}"
                    )
                if response.status_code == 201:
                    created.add(url)
                server.books.append(url)
            for url in (s for s in sources if s in created):
                server.filled.append(url)
                for card in sorted(samples.glob("*.vcf")):
                    client.put(
                        f"{url}{card.name}",
                        content=card.read_bytes(),
                        headers={"Content-Type": "text/vcard; charset=utf-8"},
                    ).raise_for_status()
    except BaseException:
        server.stop()
        raise
    return server


def _wait_for(host: str, port: int, process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DemoError(f"Radicale exited (is port {port} already in use?)")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise DemoError(f"Radicale did not listen on {host}:{port} within {timeout:.0f}s")


def count_cards(server: DemoServer, url: str) -> int:
    """Cards in an address book, read back over CardDAV (Depth 1 PROPFIND)."""
    with httpx.Client(auth=(server.username, server.password), timeout=10) as client:
        response = client.request("PROPFIND", url, headers={"Depth": "1"})
    response.raise_for_status()
    return len(re.findall(r"<(?:\w+:)?href>[^<]*\.vcf</", response.text))


def write_demo_secrets(resource: ContactSync, server: DemoServer, secrets_dir: Path) -> None:
    """Every credentials Secret the manifest names gets the demo user, as a mounted Secret."""
    names = {
        s.carddav.credentials_secret_ref.name
        for s in resource.spec.sources
        if s.carddav and s.carddav.credentials_secret_ref
    }
    names |= {
        d.carddav.credentials_secret_ref.name
        for d in resource.spec.destinations
        if d.carddav and d.carddav.credentials_secret_ref
    }
    for name in names:
        directory = secrets_dir / name
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for key, value in (("username", server.username), ("password", server.password)):
            path = directory / key
            path.touch(mode=0o600)
            path.write_text(value)
