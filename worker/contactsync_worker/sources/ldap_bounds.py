"""Bounds on what an LDAP server may send: bytes per operation, bytes per message.

ldap3 reads a whole response before it returns (every entry of a page, each message in
a buffer it appends to) and has no setting to stop it: ``SOCKET_SIZE`` only sets how much
one ``recv`` asks for. So the socket of an open connection is wrapped: its ``recv`` follows
the LDAP messages in what arrives (BER definite lengths, RFC 4511 §5.1) and fails as soon
as the bytes of one operation pass ``operation_bytes``, or a message announces more than
``message_bytes``, before the body of that message is read. ldap3 then closes the
connection and raises ``LDAPSocketReceiveError``; :attr:`ReceiveBounds.refused` says why.

A search result entry is one message holding all its values, so ``message_bytes`` bounds
every value too; and as ldap3 copies a message's buffer on each ``recv``, it bounds that
cost as well.
"""

from __future__ import annotations

from typing import Any

_LONG_FORM = 0x80


class ResponseTooLarge(OSError):
    """What the server sent passed a bound; ldap3 handles it as a failed receive."""


class ReceiveBounds:
    """Counts what one connection's server sends; :meth:`start` before each operation."""

    def __init__(self, operation_bytes: int, message_bytes: int) -> None:
        self.operation_bytes = operation_bytes
        self.message_bytes = message_bytes
        self.refused: str | None = None
        self._received = 0
        self._left = 0  # bytes of the current message still to come
        self._head = bytearray()  # the tag and length octets of the next message, so far

    def install(self, conn: Any) -> None:
        """Wrap the socket of the open ldap3 connection ``conn``.

        After StartTLS: ssl wraps the socket itself, and this wrapper is not a socket.
        """
        conn.socket = _BoundedSocket(conn.socket, self)

    def start(self) -> None:
        """An operation begins: its bytes are counted from zero."""
        self._received = 0

    def received(self, data: bytes) -> None:
        self._received += len(data)
        if self._received > self.operation_bytes:
            self._refuse(f"the server sent more than {self.operation_bytes} bytes for one request")
        at = 0
        while at < len(data):
            if self._left:
                step = min(self._left, len(data) - at)
                self._left -= step
                at += step
                continue
            self._head.append(data[at])
            at += 1
            size = self._message_size()
            if size is not None:
                if size > self.message_bytes:
                    self._refuse(
                        f"the server sent a message of {size} bytes, more than "
                        f"{self.message_bytes} (one entry with all its values)"
                    )
                self._left = size - len(self._head)
                self._head.clear()

    def _message_size(self) -> int | None:
        """The whole size of the message ``_head`` begins, None until its length is complete."""
        head = self._head
        if len(head) < 2:
            return None
        if head[1] < _LONG_FORM:
            return 2 + head[1]
        octets = head[1] & ~_LONG_FORM
        if octets == 0:
            self._refuse("the server sent a message without a definite length")
        if len(head) < 2 + octets:
            return None
        return 2 + octets + int.from_bytes(head[2:], "big")

    def _refuse(self, reason: str) -> None:
        self.refused = reason
        raise ResponseTooLarge(reason)


class _BoundedSocket:
    """A socket whose ``recv`` reports to its bounds; everything else is the socket's."""

    def __init__(self, sock: Any, bounds: ReceiveBounds) -> None:
        self._sock = sock
        self._bounds = bounds

    def recv(self, size: int, *flags: int) -> bytes:
        data: bytes = self._sock.recv(size, *flags)
        self._bounds.received(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
