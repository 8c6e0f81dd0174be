"""What ``contactsync codec-server`` accepts before serving: origins, addresses, tokens, bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync_cli.codec_http import RequestRefused, parse_payloads
from contactsync_cli.codec_server import (
    CodecServerError,
    ListenAddress,
    parse_listen,
    parse_origin,
    read_token,
)


@pytest.mark.parametrize(
    "origin",
    ["https://temporal-ui.example.org", "http://localhost:8233", "https://[::1]:8443"],
)
def test_an_origin_as_browsers_send_it_is_accepted_unchanged(origin: str) -> None:
    assert parse_origin(origin) == origin


@pytest.mark.parametrize(
    "origin",
    [
        "*",
        "https://*.example.org",
        "https://temporal-ui.example.org/",
        "https://temporal-ui.example.org/ui",
        "https://temporal-ui.example.org?x=1",
        "https://user@temporal-ui.example.org",
        "temporal-ui.example.org",
        "ftp://temporal-ui.example.org",
        "null",
        " https://temporal-ui.example.org",
    ],
)
def test_anything_but_an_exact_origin_is_refused(origin: str) -> None:
    with pytest.raises(CodecServerError, match="is not an origin"):
        parse_origin(origin)


@pytest.mark.parametrize(
    ("text", "address", "loopback"),
    [
        ("127.0.0.1:8888", ListenAddress("127.0.0.1", 8888), True),
        ("127.0.0.2:0", ListenAddress("127.0.0.2", 0), True),
        ("[::1]:8888", ListenAddress("::1", 8888), True),
        ("localhost:8888", ListenAddress("localhost", 8888), True),
        ("0.0.0.0:8888", ListenAddress("0.0.0.0", 8888), False),  # noqa: S104
        ("[::]:8888", ListenAddress("::", 8888), False),
        ("10.0.0.5:8888", ListenAddress("10.0.0.5", 8888), False),
        ("codec.example.org:443", ListenAddress("codec.example.org", 443), False),
    ],
)
def test_listen_addresses_and_which_are_loopback(
    text: str, address: ListenAddress, loopback: bool
) -> None:
    assert parse_listen(text) == address
    assert address.is_loopback is loopback


@pytest.mark.parametrize("text", ["8888", ":8888", "127.0.0.1:", "127.0.0.1:http", "h:70000"])
def test_a_listen_address_without_host_and_port_is_refused(text: str) -> None:
    with pytest.raises(CodecServerError, match="is not HOST:PORT"):
        parse_listen(text)


def test_the_token_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("c29tZS10b2tlbi1vZi1lbm91Z2gtbGVuZ3Ro\n")
    assert read_token(path) == b"c29tZS10b2tlbi1vZi1lbm91Z2gtbGVuZ3Ro"


@pytest.mark.parametrize("content", ["", "\n", "x7Qz", "two words of a token", "tökentökentöken!"])
def test_an_empty_short_or_spaced_token_is_refused_without_quoting_it(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "token"
    path.write_text(content)
    with pytest.raises(CodecServerError, match="must hold one token") as refused:
        read_token(path)
    if content.strip():
        assert content.strip() not in str(refused.value)


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(CodecServerError, match="no-token' does not exist"):
        read_token(tmp_path / "no-token")


def test_payloads_in_protobuf_json_form_are_parsed() -> None:
    [payload] = parse_payloads(
        b'{"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "ImEi"}]}'
    )
    assert payload.metadata["encoding"] == b"json/plain"
    assert payload.data == b'"a"'
    assert parse_payloads(b'{"payloads": []}') == []
    assert parse_payloads(b"{}") == []  # protobuf JSON leaves an empty list out


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\xff", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (b'[{"payloads": []}]', '"payloads" list'),
        (b'{"payloads": null}', '"payloads" list'),
        (b'{"payloads": ["ImEi"]}', "payload 0 is not a JSON object"),
        (b'{"payloads": [{}, {"metadata": {"encoding": 7}}]}', "payload 1 is not a Temporal"),
        (b'{"payloads": [{"secret-field": "x"}]}', "payload 0 is not a Temporal"),
    ],
)
def test_a_body_that_is_not_payloads_is_refused_with_400_in_words_of_our_own(
    body: bytes, words: str
) -> None:
    with pytest.raises(RequestRefused) as refused:
        parse_payloads(body)
    assert refused.value.status == 400
    assert words in refused.value.message
    assert "secret-field" not in refused.value.message
