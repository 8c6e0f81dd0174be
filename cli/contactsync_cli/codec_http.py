"""The remote payload codec over HTTP, as the Temporal Web UI and ``temporal --codec-endpoint``
call it: ``POST …/encode`` and ``POST …/decode`` with a ``Payloads`` message in protobuf JSON
form (``{"payloads": [{"metadata": {k: base64}, "data": base64}]}``) in and out.

Only the last path segment picks the operation, so the endpoints may sit under any prefix
(``/default/decode`` for a CLI endpoint templated by namespace).

Every answer is built here, errors included, so each one gets the same CORS treatment and no
error text comes from a library: a refusal says what was wrong and where (which payload,
which key id), never payload data or the token.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Middleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from contactsync_worker.codec import CodecError

OPERATIONS = ("encode", "decode")
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight answer

# Where a refused request keeps the reason, for the access log (a plain key: aiohttp >= 3.10).
REFUSAL = "contactsync_refusal"

ACCESS_LOG = logging.getLogger("contactsync.codec_server.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class CodecService:
    """What the endpoints serve and to whom."""

    codec: PayloadCodec
    token: bytes
    origins: frozenset[str]
    namespaces: frozenset[str] = frozenset()  # empty: any namespace
    max_request_bytes: int = 8 * 1024 * 1024


class RequestRefused(Exception):
    """A request the endpoints answer with ``status`` and a message a person can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def codec_app(service: CodecService) -> web.Application:
    """The aiohttp application: /encode, /decode (under any prefix) and /healthz."""
    # aiohttp refuses a body over client_max_size with 413 while reading it.
    app = web.Application(
        client_max_size=service.max_request_bytes,
        middlewares=[_cors_middleware(service.origins)],
    )

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def operate(request: web.Request) -> web.Response:
        try:
            _authorize(request, service)
            payloads = parse_payloads(await _read_body(request, service.max_request_bytes))
            if request.match_info["operation"] == "encode":
                converted = await service.codec.encode(payloads)
            else:
                converted = await _decode_each(service.codec, payloads)
        except RequestRefused as refusal:
            request[REFUSAL] = refusal.message
            return _refusal_response(refusal)
        return web.json_response(payloads_json(converted))

    app.router.add_get("/healthz", healthz)
    operation = "{operation:" + "|".join(OPERATIONS) + "}"
    app.router.add_post(f"/{operation}", operate)
    app.router.add_post(r"/{prefix:.+}/" + operation, operate)
    return app


def parse_payloads(body: bytes) -> list[Payload]:
    """The payloads of a ``Payloads`` message in protobuf JSON form, or a 400 saying what is off."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RequestRefused(400, "the request body is not JSON") from exc
    # Protobuf JSON leaves out empty fields: {} is a Payloads message without payloads.
    items = document.get("payloads", []) if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise RequestRefused(
            400, 'the request body must be a JSON object with a "payloads" list (Temporal Payloads)'
        )
    return [_parse_payload(index, item) for index, item in enumerate(items)]


def _parse_payload(index: int, item: Any) -> Payload:
    if not isinstance(item, dict):
        raise RequestRefused(400, f"payload {index} is not a JSON object")
    try:
        return json_format.ParseDict(item, Payload())
    except json_format.ParseError as exc:
        # The library's text may quote the input; say what the form must be instead.
        raise RequestRefused(
            400,
            f"payload {index} is not a Temporal Payload in protobuf JSON form "
            '("metadata": name to base64, "data": base64)',
        ) from exc


def payloads_json(payloads: Sequence[Payload]) -> dict[str, list[dict[str, Any]]]:
    return {"payloads": [json_format.MessageToDict(payload) for payload in payloads]}


async def _decode_each(codec: PayloadCodec, payloads: Sequence[Payload]) -> list[Payload]:
    """Decode one at a time, so a refusal can say which payload it was."""
    decoded: list[Payload] = []
    for index, payload in enumerate(payloads):
        try:
            decoded.extend(await codec.decode([payload]))
        except CodecError as exc:
            # The codec's messages name key ids, never key material or payload data.
            raise RequestRefused(400, f"payload {index}: {exc}") from exc
    return decoded


def _authorize(request: web.Request, service: CodecService) -> None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    presented = credentials.strip().encode("utf-8", errors="surrogateescape")
    # compare_digest takes as long whatever prefix matches, so timing tells nothing of the token.
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented, service.token):
        raise RequestRefused(401, "a valid 'Authorization: Bearer <token>' header is required")
    if service.namespaces:
        namespace = request.headers.get("X-Namespace", "")
        if namespace not in service.namespaces:
            served = ", ".join(sorted(service.namespaces))
            asked = repr(namespace) if namespace else "no X-Namespace header"
            raise RequestRefused(
                403, f"this codec server serves the namespaces {served}; the request names {asked}"
            )


async def _read_body(request: web.Request, limit: int) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise RequestRefused(413, f"the request body is larger than {limit} bytes") from exc


def _refusal_response(refusal: RequestRefused) -> web.Response:
    headers = {}
    if refusal.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="contactsync-codec"'
    return web.Response(status=refusal.status, text=refusal.message + "\n", headers=headers)


def _cors_middleware(origins: frozenset[str]) -> Middleware:
    """CORS for the configured origins only; any other origin gets no CORS headers at all."""

    @web.middleware
    async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in origins
        if request.method == "OPTIONS":
            response: web.StreamResponse = _preflight(request, allowed)
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                # The router's 404 and 405: answered here so they get the same headers.
                request[REFUSAL] = exc.reason
                response = web.Response(status=exc.status, text=exc.reason + "\n")
        response.headers["Vary"] = "Origin"
        if allowed:
            assert origin is not None
            response.headers["Access-Control-Allow-Origin"] = origin
            # The UI's "include cross-origin credentials" (fetch credentials: 'include') needs it.
            response.headers["Access-Control-Allow-Credentials"] = "true"
        return response

    return cors


def _preflight(request: web.Request, allowed: bool) -> web.Response:
    operation = request.path.rstrip("/").rpartition("/")[2]
    if operation not in OPERATIONS:
        return web.Response(status=404, text="Not Found\n")
    if not allowed:
        request[REFUSAL] = "preflight from an origin that is not allowed"
        return web.Response(status=403, text="this origin is not allowed\n")
    if request.headers.get("Access-Control-Request-Method", "POST") != "POST":
        request[REFUSAL] = "preflight for a method other than POST"
        return web.Response(status=405, text="only POST is allowed\n")
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        },
    )


class AccessLogger(AbstractAccessLogger):
    """One line a request: who, what path, the answer, and why a refusal was one.

    Never bodies, headers other than the namespace and origin, or the query string.
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        reason = request.get(REFUSAL)
        self.logger.info(
            '%s "%s %s" %d %.3fs namespace=%s origin=%s%s',
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
            request.headers.get("X-Namespace", "-"),
            request.headers.get("Origin", "-"),
            f" refused: {reason}" if reason else "",
        )


async def serve(
    app: web.Application,
    host: str,
    port: int,
    ssl_context: ssl.SSLContext | None,
    started: Callable[[str], None],
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT; ``started`` gets the URL actually bound."""
    runner = web.AppRunner(
        app, access_log_class=AccessLogger, access_log=ACCESS_LOG, handle_signals=False
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        scheme = "https" if ssl_context is not None else "http"
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        started(f"{scheme}://{shown}:{bound_port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
