"""``contactsync codec-server``: the region's payload codec for the Temporal Web UI and CLI.

Workers keep every payload in Temporal's history encrypted; this endpoint decrypts them (and
encrypts, for ``temporal workflow start`` and the like) with the workers' own codec, for
whoever presents the bearer token. It holds the region's payload keys, so it refuses to
serve beyond loopback in plain text: the token and the contact data would cross the network
readable.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

    from contactsync_cli.codec_http import CodecService

COMMAND = "codec-server"
DEFAULT_LISTEN = "127.0.0.1:8888"
DEFAULT_MAX_REQUEST_BYTES = 8 * 1024 * 1024  # a 4 MiB gRPC message, base64 and JSON around it
MIN_TOKEN_CHARACTERS = 16


class CodecServerError(ValueError):
    """The command cannot start as asked; the message says what to change."""


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name: it may resolve anywhere


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        COMMAND,
        help="serve the region's payload codec to the Temporal Web UI and CLI (token required)",
    )
    parser.add_argument(
        "--keys-dir", type=Path, required=True, help="the region's keys, one file per key id"
    )
    parser.add_argument(
        "--token-file",
        type=Path,
        required=True,
        help="a file holding the bearer token every encode and decode request must present",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        required=True,
        metavar="ORIGIN",
        help="the Web UI's origin, e.g. https://temporal-ui.example.org (repeatable); "
        "browsers on any other origin get no CORS headers",
    )
    parser.add_argument(
        "--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT", help=f"default {DEFAULT_LISTEN}"
    )
    parser.add_argument("--tls-cert", type=Path, help="serve HTTPS with this PEM certificate")
    parser.add_argument("--tls-key", type=Path, help="the certificate's PEM private key")
    parser.add_argument(
        "--insecure-listen",
        action="store_true",
        help="allow plain HTTP on a non-loopback address (the token and decoded contact data "
        "then cross the network readable)",
    )
    parser.add_argument(
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="serve only requests whose X-Namespace names this Temporal namespace (repeatable)",
    )
    parser.add_argument(
        "--max-request-bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        help=f"larger request bodies are refused with 413 (default {DEFAULT_MAX_REQUEST_BYTES})",
    )


def run(args: argparse.Namespace) -> int:
    from contactsync_cli.main import EXIT_INVALID, EXIT_UNAVAILABLE

    try:
        listen = parse_listen(args.listen)
        origins = frozenset(parse_origin(origin) for origin in args.allow_origin)
        ssl_context = _tls_context(args.tls_cert, args.tls_key)
        if ssl_context is None and not listen.is_loopback and not args.insecure_listen:
            raise CodecServerError(
                f"{listen.host} is not a loopback address: serving there in plain HTTP would "
                "send the token and decoded contact data across the network readable; give "
                "--tls-cert and --tls-key (or --insecure-listen behind a TLS-terminating proxy)"
            )
        if args.max_request_bytes < 1:
            raise CodecServerError("--max-request-bytes must be a positive number of bytes")
        token = read_token(args.token_file)
        service = _service(args, token, origins)
    except CodecServerError as exc:
        _fail(str(exc))
        return EXIT_INVALID
    try:
        _serve(service, listen, ssl_context)
    except OSError as exc:
        # asyncio's own text repeats the address; the errno says what went wrong.
        reason = os.strerror(exc.errno) if exc.errno else "the address is unavailable"
        _fail(f"cannot listen on {args.listen}: {reason}")
        return EXIT_UNAVAILABLE
    return 0


def parse_listen(text: str) -> ListenAddress:
    host, colon, port_text = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]  # [::1]:8888
    if not colon or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise CodecServerError(
            f"--listen {text!r} is not HOST:PORT (e.g. 127.0.0.1:8888 or [::1]:8888)"
        )
    return ListenAddress(host, int(port_text))


def parse_origin(text: str) -> str:
    """A browser origin exactly as browsers send it: scheme://host[:port], nothing more."""
    parts = urlsplit(text)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or "*" in text
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or text != text.strip()
    ):
        raise CodecServerError(
            f"--allow-origin {text!r} is not an origin: give scheme://host[:port] with no path "
            "or trailing slash, e.g. https://temporal-ui.example.org"
        )
    return text


def read_token(path: Path) -> bytes:
    try:
        token = path.read_bytes().strip()
    except FileNotFoundError:
        raise CodecServerError(f"token file {str(path)!r} does not exist") from None
    except OSError as exc:
        raise CodecServerError(f"cannot read token file {str(path)!r}: {exc.strerror}") from None
    if len(token) < MIN_TOKEN_CHARACTERS or any(byte <= 0x20 or byte >= 0x7F for byte in token):
        raise CodecServerError(
            f"token file {str(path)!r} must hold one token of at least {MIN_TOKEN_CHARACTERS} "
            "printable ASCII characters without spaces (e.g. from `openssl rand -base64 32`)"
        )
    return token


def _tls_context(cert: Path | None, key: Path | None) -> ssl.SSLContext | None:
    import ssl

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise CodecServerError("--tls-cert and --tls-key go together: give both or neither")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        raise CodecServerError(f"TLS file {exc.filename!r} does not exist") from None
    except (OSError, ssl.SSLError):
        raise CodecServerError(
            f"cannot load the TLS certificate {str(cert)!r} with the key {str(key)!r}: both must "
            "be PEM, unencrypted, and the key must belong to the certificate"
        ) from None
    return context


def _service(args: argparse.Namespace, token: bytes, origins: frozenset[str]) -> CodecService:
    from contactsync_cli.codec_http import CodecService
    from contactsync_worker.codec import EncryptionCodec
    from contactsync_worker.keyring import Keyring, KeyringError

    try:
        keyring = Keyring.from_directory(args.keys_dir)
    except KeyringError as exc:
        raise CodecServerError(str(exc)) from None
    except OSError as exc:
        raise CodecServerError(
            f"cannot read the keyring in {str(args.keys_dir)!r}: {exc.strerror}"
        ) from None
    _say(f"keys: {', '.join(keyring)} (encrypting with {keyring.newest_id})")
    return CodecService(
        codec=EncryptionCodec(keyring),
        token=token,
        origins=origins,
        namespaces=frozenset(args.namespace),
        max_request_bytes=args.max_request_bytes,
    )


def _serve(service: CodecService, listen: ListenAddress, context: ssl.SSLContext | None) -> None:
    import asyncio

    from contactsync_cli.codec_http import codec_app, serve

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    app = codec_app(service)

    def started(url: str) -> None:
        _say(f"serving /encode and /decode on {url} for {', '.join(sorted(service.origins))}")

    asyncio.run(serve(app, listen.host, listen.port, context, started))


def _say(line: str) -> None:
    print(f"contactsync {COMMAND}: {line}", flush=True)


def _fail(line: str) -> None:
    print(f"contactsync {COMMAND}: {line}", file=sys.stderr)
