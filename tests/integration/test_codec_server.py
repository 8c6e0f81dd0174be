"""``contactsync codec-server`` as its own process: it decodes what workers wrote to a real
Temporal history, for the ``temporal`` CLI too, and answers only the token and the UI's origin.

Histories are read with a client that has no codec, as the Web UI reads them, and their raw
payloads are posted to the server as the UI posts them.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import os
import re
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType

from contactsync_cli.main import EXIT_INVALID, EXIT_UNAVAILABLE, main
from contactsync_worker.codec import ENCODING, KEY_ID_METADATA, EncryptionCodec
from contactsync_worker.keyring import Keyring
from tests.integration.test_codec_temporal import (
    MARKER,
    connect,
    payloads_in,
    raw_history,
    run_greeting,
    running_worker,
)
from tests.servers import pki
from tests.servers.process import ManagedProcess, wait_until
from tests.servers.temporal import NAMESPACE, TemporalDevServer, temporal_cli

ORIGIN = "https://temporal-ui.example.org"
OTHER_ORIGIN = "https://elsewhere.example.net"
SERVING = re.compile(r"serving /encode and /decode on (https?://\S+)")
MAX_REQUEST_BYTES = 64 * 1024


@dataclass
class CodecServer:
    url: str
    token: str
    keyring: Keyring
    process: ManagedProcess

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}


def write_keys(directory: Path, keys: dict[str, bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key_id, key in keys.items():
        (directory / key_id).write_text(base64.b64encode(key).decode() + "\n")
    return directory


def codec_server_argv(keys_dir: Path, token_file: Path, *extra: str) -> list[str]:
    return [
        "codec-server",
        f"--keys-dir={keys_dir}",
        f"--token-file={token_file}",
        f"--allow-origin={ORIGIN}",
        *extra,
    ]


def start_codec_server(directory: Path, *extra: str, ca: Path | None = None) -> CodecServer:
    keys = {"k1": os.urandom(32)}
    token = base64.b64encode(os.urandom(32)).decode()
    token_file = directory / "token"
    token_file.write_text(token + "\n")
    argv = codec_server_argv(write_keys(directory / "keys", keys), token_file, *extra)
    log = directory / "codec-server.log"
    process = ManagedProcess(
        "codec-server",
        [sys.executable, "-m", "contactsync_cli.main", *argv, "--listen=127.0.0.1:0"],
        log,
    ).start()
    wait_until(
        lambda: SERVING.search(log.read_text()) is not None,
        timeout=30,
        what="contactsync codec-server",
        process=process,
    )
    match = SERVING.search(log.read_text())
    assert match is not None
    return CodecServer(match.group(1), token, Keyring(keys), process)


@pytest.fixture(scope="module")
def codec_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CodecServer]:
    server = start_codec_server(
        tmp_path_factory.mktemp("codec-server"), f"--max-request-bytes={MAX_REQUEST_BYTES}"
    )
    try:
        yield server
    finally:
        server.process.stop()


def body_of(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [json_format.MessageToDict(payload) for payload in payloads]}


def payloads_from(answer: httpx.Response) -> list[Payload]:
    assert answer.status_code == 200, answer.text
    return [json_format.ParseDict(item, Payload()) for item in answer.json()["payloads"]]


def plain_payload(value: object) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(value).encode())


@pytest.mark.temporal
async def test_history_payloads_a_worker_encrypted_decode_to_their_plaintext(
    temporal_server: TemporalDevServer, codec_server: CodecServer
) -> None:
    client = await connect(temporal_server, codec_server.keyring)
    async with running_worker(client) as task_queue:
        handle = await run_greeting(client, task_queue)
    history = await raw_history(await connect(temporal_server, None), handle.id)
    [started] = [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED
    ]
    encrypted = list(started.workflow_execution_started_event_attributes.input.payloads)
    assert [payload.metadata["encoding"] for payload in encrypted] == [ENCODING]

    async with httpx.AsyncClient(base_url=codec_server.url) as http:
        answer = await http.post(
            "/decode",
            json=body_of(encrypted),
            headers=codec_server.headers(**{"X-Namespace": NAMESPACE, "Origin": ORIGIN}),
        )
        [decoded] = payloads_from(answer)
        assert decoded.metadata["encoding"] == b"json/plain"
        assert json.loads(decoded.data) == MARKER
        assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN

        # Every payload the history holds decodes: activity input and result, workflow result.
        everything = [payload for event in history.events for payload in payloads_in(event)]
        answer = await http.post(
            "/decode", json=body_of(everything), headers=codec_server.headers()
        )
        values = [json.loads(payload.data) for payload in payloads_from(answer)]
    assert f"synced {MARKER}" in values
    assert values.count(MARKER) >= 2  # the workflow's input and the activity's


@pytest.mark.temporal
async def test_the_temporal_cli_shows_a_history_decoded_through_the_codec_server(
    temporal_server: TemporalDevServer, codec_server: CodecServer
) -> None:
    client = await connect(temporal_server, codec_server.keyring)
    async with running_worker(client) as task_queue:
        handle = await run_greeting(client, task_queue)
    show = [
        str(temporal_cli()),
        "workflow",
        "show",
        f"--address={temporal_server.address}",
        f"--namespace={NAMESPACE}",
        f"--workflow-id={handle.id}",
        "--output=json",
    ]

    async def shown(*codec: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run, [*show, *codec], capture_output=True, text=True, timeout=60
        )

    raw = await shown()
    assert raw.returncode == 0, raw.stderr
    assert {encoding for encoding, _ in payloads_shown(raw.stdout)} == {ENCODING}
    decoded = await shown(
        f"--codec-endpoint={codec_server.url}", f"--codec-auth=Bearer {codec_server.token}"
    )
    assert decoded.returncode == 0, decoded.stderr
    shown_payloads = payloads_shown(decoded.stdout)
    assert {encoding for encoding, _ in shown_payloads} == {b"json/plain"}
    assert json.dumps(MARKER).encode() in {data for _, data in shown_payloads}
    # Without the token the CLI's decode requests get 401: no plaintext is shown.
    refused = await shown(f"--codec-endpoint={codec_server.url}")
    assert b"json/plain" not in {encoding for encoding, _ in payloads_shown(refused.stdout)}
    assert MARKER not in refused.stdout + refused.stderr


def payloads_shown(output: str) -> list[tuple[bytes, bytes]]:
    """(encoding, data) of every payload in ``temporal workflow show --output json``."""
    found: list[tuple[bytes, bytes]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            metadata = node.get("metadata")
            if isinstance(metadata, dict) and "encoding" in metadata and "data" in node:
                found.append(
                    (base64.b64decode(metadata["encoding"]), base64.b64decode(node["data"]))
                )
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    if output.strip():
        walk(json.loads(output))
    return found


def test_encode_then_decode_gives_back_the_payloads(codec_server: CodecServer) -> None:
    originals = [plain_payload({"email": MARKER}), plain_payload([1, 2, 3])]
    with httpx.Client(base_url=codec_server.url, headers=codec_server.headers()) as http:
        encoded = payloads_from(http.post("/encode", json=body_of(originals)))
        assert all(payload.metadata[KEY_ID_METADATA] == b"k1" for payload in encoded)
        assert all(MARKER.encode() not in payload.data for payload in encoded)
        # Any prefix: the CLI may template the endpoint by namespace.
        decoded = payloads_from(http.post(f"/{NAMESPACE}/decode", json=body_of(encoded)))
    assert decoded == originals


def test_a_request_without_the_token_or_with_a_wrong_one_is_refused_with_401(
    codec_server: CodecServer,
) -> None:
    encrypted = asyncio.run(EncryptionCodec(codec_server.keyring).encode([plain_payload(MARKER)]))
    body = body_of(encrypted)
    wrong = [
        {},
        {"Authorization": f"Bearer {codec_server.token[:-1]}"},
        {"Authorization": f"Bearer {codec_server.token}x"},
        {"Authorization": f"Basic {codec_server.token}"},
        {"Authorization": codec_server.token},
    ]
    with httpx.Client(base_url=codec_server.url) as http:
        for headers in wrong:
            for operation in ("/decode", "/encode"):
                answer = http.post(operation, json=body, headers=headers)
                assert answer.status_code == 401, (operation, headers)
                assert MARKER not in answer.text
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert http.post("/decode", json=body, headers=codec_server.headers()).status_code == 200


def test_the_allowed_origins_preflight_succeeds_and_its_answers_carry_cors_headers(
    codec_server: CodecServer,
) -> None:
    with httpx.Client(base_url=codec_server.url) as http:
        preflight = http.options(
            "/decode",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
            },
        )
        refused = http.post("/decode", json={"payloads": []}, headers={"Origin": ORIGIN})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert preflight.headers["Access-Control-Allow-Methods"] == "POST"
    allowed = {
        h.strip().lower() for h in preflight.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert allowed == {"authorization", "content-type", "x-namespace"}
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    # A refusal reaches the UI's code too, so it can tell "wrong token" from "unreachable".
    assert refused.status_code == 401
    assert refused.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_another_origin_gets_no_cors_headers(codec_server: CodecServer) -> None:
    with httpx.Client(base_url=codec_server.url) as http:
        preflight = http.options(
            "/decode", headers={"Origin": OTHER_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        answer = http.post(
            "/encode",
            json=body_of([plain_payload(1)]),
            headers=codec_server.headers(Origin=OTHER_ORIGIN),
        )
        # An origin is matched whole: a prefix or another scheme is another origin.
        lookalike = http.post(
            "/encode",
            json=body_of([plain_payload(1)]),
            headers=codec_server.headers(Origin=ORIGIN + ".evil.example"),
        )
    assert preflight.status_code == 403
    for response in (preflight, answer, lookalike):
        assert not any(name.lower().startswith("access-control-") for name in response.headers)


def test_a_payload_under_a_key_the_server_lacks_is_refused_naming_the_key_id(
    codec_server: CodecServer,
) -> None:
    stranger = EncryptionCodec(Keyring({"k0-other-region": os.urandom(32)}))
    ours = asyncio.run(EncryptionCodec(codec_server.keyring).encode([plain_payload(MARKER)]))
    theirs = asyncio.run(stranger.encode([plain_payload(MARKER)]))
    with httpx.Client(base_url=codec_server.url, headers=codec_server.headers()) as http:
        answer = http.post("/decode", json=body_of([*ours, *theirs]))
    assert answer.status_code == 400
    assert "payload 1" in answer.text
    assert "key id 'k0-other-region'" in answer.text
    assert MARKER not in answer.text
    assert "payloads" not in answer.text  # nothing decoded is sent back, not even payload 0


def test_a_malformed_body_is_refused_with_400_saying_what_is_wrong(
    codec_server: CodecServer,
) -> None:
    cases = {
        b"{not json": "not JSON",
        b'["payloads"]': '"payloads" list',
        b'{"payloads": {}}': '"payloads" list',
        b'{"payloads": [{"data": "ImEi"}, 7]}': "payload 1 is not a JSON object",
        b'{"payloads": [{"data": "ImEiI"}]}': "payload 0 is not a Temporal Payload",
        b'{"payloads": [{"dat": "ImEi"}]}': "payload 0 is not a Temporal Payload",
    }
    with httpx.Client(base_url=codec_server.url, headers=codec_server.headers()) as http:
        for body, words in cases.items():
            answer = http.post("/decode", content=body)
            assert answer.status_code == 400, body
            assert words in answer.text, (body, answer.text)


def test_a_body_over_the_limit_is_refused_with_413(codec_server: CodecServer) -> None:
    big = plain_payload("x" * MAX_REQUEST_BYTES)
    with httpx.Client(base_url=codec_server.url, headers=codec_server.headers()) as http:
        answer = http.post("/encode", json=body_of([big]))
        # Without the token a big body is not even read.
        anonymous = http.post("/encode", json=body_of([big]), headers={"Authorization": ""})
    assert answer.status_code == 413
    assert str(MAX_REQUEST_BYTES) in answer.text
    assert anonymous.status_code == 401


def test_the_health_endpoint_needs_no_token(codec_server: CodecServer) -> None:
    answer = httpx.get(f"{codec_server.url}/healthz")
    assert answer.status_code == 200


def test_the_access_log_holds_neither_payload_data_nor_the_token(
    codec_server: CodecServer,
) -> None:
    payload = plain_payload(MARKER)
    with httpx.Client(base_url=codec_server.url, headers=codec_server.headers()) as http:
        encoded = payloads_from(http.post("/encode", json=body_of([payload])))
        payloads_from(http.post("/decode", json=body_of(encoded)))
        http.post("/decode", json=body_of(encoded), headers={"Authorization": "Bearer guess"})
    log = codec_server.process.log_path.read_text()
    assert '"POST /decode" 200' in log
    assert '"POST /decode" 401' in log
    for secret in (
        codec_server.token,
        MARKER,
        base64.b64encode(payload.data).decode(),
        base64.b64encode(encoded[0].data).decode()[:24],
        "guess",
    ):
        assert secret not in log


def test_namespaces_outside_the_allow_list_are_refused_with_403(tmp_path: Path) -> None:
    server = start_codec_server(tmp_path, "--namespace=contacts-eu", "--namespace=contacts-us")
    try:
        body = body_of([plain_payload(1)])
        with httpx.Client(base_url=server.url) as http:
            served = http.post(
                "/encode", json=body, headers=server.headers(**{"X-Namespace": "contacts-eu"})
            )
            other = http.post(
                "/encode", json=body, headers=server.headers(**{"X-Namespace": "default"})
            )
            unnamed = http.post("/encode", json=body, headers=server.headers())
    finally:
        server.process.stop()
    assert served.status_code == 200
    assert other.status_code == 403
    assert "'default'" in other.text
    assert unnamed.status_code == 403


def test_it_serves_https_with_the_given_certificate(tmp_path: Path) -> None:
    ca = pki.make_ca(tmp_path / "pki", "codec test CA")
    cert = pki.issue(ca, tmp_path / "pki", "codec", "127.0.0.1", server_names=("127.0.0.1",))
    server = start_codec_server(tmp_path, f"--tls-cert={cert.cert}", f"--tls-key={cert.key}")
    try:
        assert server.url.startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=ca.cert)
        with httpx.Client(base_url=server.url, verify=trust) as http:
            originals = [plain_payload(MARKER)]
            encoded = payloads_from(
                http.post("/encode", json=body_of(originals), headers=server.headers())
            )
            decoded = payloads_from(
                http.post("/decode", json=body_of(encoded), headers=server.headers())
            )
    finally:
        server.process.stop()
    assert decoded == originals


def test_a_missing_token_file_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_keys(tmp_path / "keys", {"k1": os.urandom(32)})
    missing = tmp_path / "no-such-token"
    status = main(codec_server_argv(keys, missing))
    error = capsys.readouterr().err
    assert status == EXIT_INVALID
    assert error.count("\n") == 1
    assert error.startswith("contactsync codec-server: ")
    assert str(missing) in error
    assert "Traceback" not in error


def test_plain_http_beyond_loopback_is_refused_without_insecure_listen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_keys(tmp_path / "keys", {"k1": os.urandom(32)})
    token = tmp_path / "token"
    token.write_text("a-token-long-enough-to-pass")
    status = main(codec_server_argv(keys, token, "--listen=0.0.0.0:8888"))
    error = capsys.readouterr().err
    assert status == EXIT_INVALID
    assert error.count("\n") == 1
    assert "0.0.0.0 is not a loopback address" in error
    assert "--tls-cert" in error
    assert "--insecure-listen" in error


def test_an_address_already_in_use_is_unavailable_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = write_keys(tmp_path / "keys", {"k1": os.urandom(32)})
    token = tmp_path / "token"
    token.write_text("a-token-long-enough-to-pass")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(codec_server_argv(keys, token, f"--listen=127.0.0.1:{port}"))
    error = capsys.readouterr().err
    assert status == EXIT_UNAVAILABLE
    in_use = os.strerror(errno.EADDRINUSE)
    assert error == f"contactsync codec-server: cannot listen on 127.0.0.1:{port}: {in_use}\n"
