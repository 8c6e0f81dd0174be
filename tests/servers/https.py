"""A small real HTTPS server on loopback: a test CA, a certificate for 127.0.0.1, canned
responses by path, and a record of every request it was sent.

It runs in a thread of the test process (as httpx's own test suite does) because what
the tests prove is the client side: TLS verification, redirects, headers. A plain-HTTP
variant (``tls=False``) stands in for the insecure end of a redirect.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers.pki import make_control_plane_pki


@dataclass(frozen=True)
class Route:
    """What the server answers on one path."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    bearer: str | None = None  # when set, any other Authorization gets 401


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # names lower-cased


@dataclass
class HttpsServer:
    """A running server: its base URL, the CA that signed it, its routes and its log."""

    url: str
    ca_bundle: Path | None
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[ReceivedRequest] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self, path: str) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)


def _handler(state: HttpsServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            headers = {name.lower(): value for name, value in self.headers.items()}
            state._record(ReceivedRequest("GET", path, headers))
            route = state.routes.get(path, Route(status=404))
            if route.bearer is not None and headers.get("authorization") != (
                f"Bearer {route.bearer}"
            ):
                route = Route(status=401, headers={"WWW-Authenticate": "Bearer"})
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test asserts on state.requests instead

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.tls: ssl.SSLContext | None = None

    def finish_request(self, request: socket.socket, client_address: tuple[str, int]) -> None:  # type: ignore[override]
        # The handshake runs here, in the connection's thread, so a client that
        # rejects the certificate fails alone instead of stalling the accept loop.
        if self.tls is not None:
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # failed handshakes are what some tests provoke


@contextmanager
def running_https_server(directory: Path, *, tls: bool = True) -> Iterator[HttpsServer]:
    """Serve on a free loopback port until the block ends; ``directory`` holds the PKI."""
    ca_bundle: Path | None = None
    state = HttpsServer(url="", ca_bundle=None)
    server = _Server(_handler(state))
    if tls:
        # The control-plane PKI fits: a fresh CA and a serving cert for 127.0.0.1.
        pki = make_control_plane_pki(directory, {})
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(pki.apiserver.cert, pki.apiserver.key)
        server.tls = context
        ca_bundle = pki.ca.cert
    host, port = server.server_address[:2]
    state.url = f"{'https' if tls else 'http'}://{host!s}:{port}"
    state.ca_bundle = ca_bundle
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},  # shutdown() waits up to one interval
        name="https-test-server",
        daemon=True,
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
