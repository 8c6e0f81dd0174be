"""Following LDAP messages in received bytes: a message too large is refused from its
header, however the bytes are split between reads."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from contactsync_worker.sources.ldap_bounds import ReceiveBounds, ResponseTooLarge


def message(body_size: int) -> bytes:
    """An LDAPMessage (SEQUENCE) of ``body_size`` body bytes, its length in the shortest form."""
    if body_size < 0x80:
        length = bytes([body_size])
    else:
        octets = body_size.to_bytes((body_size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return b"\x30" + length + b"\x00" * body_size


def feed(bounds: ReceiveBounds, data: bytes, step: int) -> None:
    for start in range(0, len(data), step):
        bounds.received(data[start : start + step])


@pytest.mark.parametrize("step", [1, 2, 3, 5, 1000, 1_000_000])
def test_messages_under_the_bound_pass_however_the_reads_split_them(step: int) -> None:
    stream = message(5) + message(200) + message(70_000) + message(0) + message(127)
    bounds = ReceiveBounds(operation_bytes=len(stream), message_bytes=5 + 70_000)

    feed(bounds, stream, step)

    assert bounds.refused is None


@pytest.mark.parametrize("step", [1, 2, 4, 7])
def test_a_message_over_the_bound_is_refused_from_its_header(step: int) -> None:
    bounds = ReceiveBounds(operation_bytes=2**30, message_bytes=64 * 1024)
    header = message(1_000_000)[:6]  # 0x30 0x83 and three length octets: the body never comes

    with pytest.raises(ResponseTooLarge, match="a message of 1000005 bytes, more than 65536"):
        feed(bounds, message(10) + header, step)

    assert bounds.refused is not None


def test_the_bytes_of_one_operation_are_bounded_and_the_next_counts_anew() -> None:
    bounds = ReceiveBounds(operation_bytes=1000, message_bytes=1000)
    for _ in range(2):
        bounds.start()
        feed(bounds, message(400) + message(400), 100)

    bounds.start()
    with pytest.raises(ResponseTooLarge, match="more than 1000 bytes for one request"):
        feed(bounds, message(400) + message(400) + message(400), 100)


def test_a_message_without_a_definite_length_is_refused() -> None:
    bounds = ReceiveBounds(operation_bytes=1000, message_bytes=1000)
    with pytest.raises(ResponseTooLarge, match="definite length"):
        bounds.received(b"\x30\x80\x00\x00")


def test_the_socket_of_a_connection_reports_what_it_receives() -> None:
    ours, server = socket.socketpair()
    conn = SimpleNamespace(socket=ours)
    bounds = ReceiveBounds(operation_bytes=100, message_bytes=100)
    bounds.install(conn)
    try:
        server.sendall(message(10) + message(200)[:4])
        assert conn.socket.recv(12) == message(10)
        assert conn.socket.fileno() == ours.fileno()  # the rest is the socket's
        with pytest.raises(ResponseTooLarge, match="a message of 203 bytes"):
            conn.socket.recv(4)
    finally:
        ours.close()
        server.close()
