"""The Temporal payload codec every client uses: AES-256-GCM with key ids in metadata.

An encrypted payload is::

    metadata  encoding          = b"binary/encrypted"
              encryption-key-id = b"<key id>"
    data      nonce (12 random bytes) || AES-256-GCM(serialized original Payload) || tag (16 bytes)

The whole original Payload is encrypted, metadata included, so even its
encoding (``json/plain`` and the like) does not show. The key id is the
associated data: a payload relabelled with another key id fails to decrypt
instead of decrypting under the wrong label.

Decoding fails closed: a payload that is not encrypted is refused, so only holders of the
region's keys can hand its workers input (start a purge or an erasure, say).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from contactsync_worker.keyring import Keyring

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
NONCE_BYTES = 12  # 96 bits, the size GCM is specified for
_TAG_BYTES = 16


class CodecError(Exception):
    """An encrypted payload cannot be decrypted."""


class UnencryptedPayloadError(CodecError):
    """A payload arrived in plain text: written by a client that does not hold the keys."""


class UnknownKeyError(CodecError):
    """A payload was encrypted with a key this keyring lacks."""

    def __init__(self, key_id: str, known: Sequence[str]) -> None:
        super().__init__(
            f"payload is encrypted with key id {key_id!r}, which the keyring lacks "
            f"(keyring has {', '.join(known)}); add that key to the keyring to read it"
        )
        self.key_id = key_id


class EncryptionCodec(PayloadCodec):
    """Encrypts with the keyring's newest key; decrypts with whichever key a payload names."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keyring.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        key_id = self._keyring.newest_id
        return [self._encrypt(key_id, payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decrypt(payload) for payload in payloads]

    def _encrypt(self, key_id: str, payload: Payload) -> Payload:
        label = key_id.encode()
        # Random nonces are safe for 2**32 payloads per key (NIST SP 800-38D);
        # rotate keys long before that.
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), label)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: label},
            data=nonce + sealed,
        )

    def _decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            # Fail closed: a client without the region's keys must not be able to hand a
            # worker input (start a purge, an erasure) that it would act on.
            raise UnencryptedPayloadError(
                "payload is not encrypted with a ContactSync key; it was refused (clients "
                "without the region's keys cannot drive its workers)"
            )
        label = payload.metadata.get(KEY_ID_METADATA)
        if label is None:
            raise CodecError(f"encrypted payload has no {KEY_ID_METADATA!r} metadata")
        key_id = label.decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownKeyError(key_id, list(self._keyring))
        if len(payload.data) < NONCE_BYTES + _TAG_BYTES:
            raise CodecError(f"encrypted payload (key id {key_id!r}) is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, label)
        except InvalidTag as exc:
            raise CodecError(
                f"encrypted payload (key id {key_id!r}) failed authentication: "
                "its data or key-id metadata was altered"
            ) from exc
        try:
            return Payload.FromString(plain)
        except DecodeError as exc:
            # Authenticated yet not a Payload: written by some other encoder with our key.
            raise CodecError(f"decrypted payload (key id {key_id!r}) is not a Payload") from exc


def data_converter(keyring: Keyring) -> DataConverter:
    """The data converter for every client: payloads and failure messages/stack traces encrypted."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=EncryptionCodec(keyring),
        # Without it, failure messages and stack traces (which may quote contact
        # data) sit in history in plain text; this moves them into a payload.
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
