"""The payload codec and its keyring, without a server."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.exceptions import ApplicationError

from contactsync_worker.codec import (
    ENCODING,
    KEY_ID_METADATA,
    NONCE_BYTES,
    CodecError,
    EncryptionCodec,
    UnencryptedPayloadError,
    UnknownKeyError,
    data_converter,
)
from contactsync_worker.keyring import Keyring, KeyringError

MARKER = "erika.mustermann@example.org"


def new_key() -> bytes:
    return os.urandom(32)


def plain_payload(value: object = MARKER) -> Payload:
    return DataConverter.default.payload_converter.to_payload(value)


async def encrypt(keyring: Keyring, payload: Payload) -> Payload:
    [encrypted] = await EncryptionCodec(keyring).encode([payload])
    return encrypted


async def decrypt(keyring: Keyring, payload: Payload) -> Payload:
    [decrypted] = await EncryptionCodec(keyring).decode([payload])
    return decrypted


def with_byte_flipped(payload: Payload, index: int) -> Payload:
    data = bytearray(payload.data)
    data[index] ^= 0x01
    return Payload(metadata=dict(payload.metadata), data=bytes(data))


# --- codec ------------------------------------------------------------------------------


async def test_round_trip_restores_data_and_metadata() -> None:
    keyring = Keyring({"k1": new_key()})
    original = plain_payload({"email": MARKER, "consent": True})
    assert await decrypt(keyring, await encrypt(keyring, original)) == original


async def test_encrypted_payload_is_nonce_ciphertext_and_tag_under_encrypted_encoding() -> None:
    keyring = Keyring({"k1": new_key()})
    original = plain_payload()
    encrypted = await encrypt(keyring, original)
    assert dict(encrypted.metadata) == {"encoding": ENCODING, KEY_ID_METADATA: b"k1"}
    assert len(encrypted.data) == NONCE_BYTES + len(original.SerializeToString()) + 16


async def test_ciphertext_contains_neither_the_plaintext_nor_its_encoding() -> None:
    keyring = Keyring({"k1": new_key()})
    encrypted = await encrypt(keyring, plain_payload())
    serialized = encrypted.SerializeToString()
    assert MARKER.encode() not in serialized
    assert b"json/plain" not in serialized


async def test_the_same_payload_encrypts_differently_each_time() -> None:
    keyring = Keyring({"k1": new_key()})
    first = await encrypt(keyring, plain_payload())
    second = await encrypt(keyring, plain_payload())
    assert first.data[:NONCE_BYTES] != second.data[:NONCE_BYTES]
    assert first.data != second.data


async def test_newest_key_id_encrypts() -> None:
    keyring = Keyring({"2026-11-26": new_key(), "2025-01-31": new_key(), "2026-05-01": new_key()})
    encrypted = await encrypt(keyring, plain_payload())
    assert encrypted.metadata[KEY_ID_METADATA] == b"2026-11-26"


async def test_older_key_still_decrypts_after_rotation() -> None:
    old_key = new_key()
    before = Keyring({"k0001": old_key})
    written_before = await encrypt(before, plain_payload())
    after = Keyring({"k0001": old_key, "k0002": new_key()})
    assert await decrypt(after, written_before) == plain_payload()
    assert (await encrypt(after, plain_payload())).metadata[KEY_ID_METADATA] == b"k0002"


async def test_unknown_key_id_error_names_the_key_id() -> None:
    written = await encrypt(Keyring({"k0007": new_key()}), plain_payload())
    with pytest.raises(UnknownKeyError, match=r"'k0007'.*keyring lacks") as caught:
        await decrypt(Keyring({"k0001": new_key()}), written)
    assert caught.value.key_id == "k0007"


@pytest.mark.parametrize("index", [0, NONCE_BYTES, -1], ids=["in nonce", "in ciphertext", "in tag"])
async def test_tampered_data_fails_authentication(index: int) -> None:
    keyring = Keyring({"k1": new_key()})
    encrypted = await encrypt(keyring, plain_payload())
    with pytest.raises(CodecError, match="failed authentication"):
        await decrypt(keyring, with_byte_flipped(encrypted, index))


async def test_swapped_key_id_metadata_fails_even_when_both_ids_hold_the_same_key() -> None:
    # Same key under both ids: only the key id bound as associated data can tell.
    key = new_key()
    keyring = Keyring({"a": key, "b": key})
    encrypted = await encrypt(keyring, plain_payload())
    assert encrypted.metadata[KEY_ID_METADATA] == b"b"
    encrypted.metadata[KEY_ID_METADATA] = b"a"
    with pytest.raises(CodecError, match="failed authentication"):
        await decrypt(keyring, encrypted)


async def test_encrypted_payload_without_key_id_or_too_short_is_refused() -> None:
    keyring = Keyring({"k1": new_key()})
    encrypted = await encrypt(keyring, plain_payload())
    del encrypted.metadata[KEY_ID_METADATA]
    with pytest.raises(CodecError, match=KEY_ID_METADATA):
        await decrypt(keyring, encrypted)
    truncated = Payload(metadata={"encoding": ENCODING, KEY_ID_METADATA: b"k1"}, data=b"short")
    with pytest.raises(CodecError, match="truncated"):
        await decrypt(keyring, truncated)


@pytest.mark.parametrize(
    "plain",
    [plain_payload(), plain_payload(None), Payload(metadata={"x": b"y"}, data=b"z")],
    ids=["json", "null", "other"],
)
async def test_a_payload_that_is_not_encrypted_is_refused(plain: Payload) -> None:
    keyring = Keyring({"k1": new_key()})
    with pytest.raises(UnencryptedPayloadError):
        await EncryptionCodec(keyring).decode([plain])


async def test_data_converter_encrypts_values_and_failure_messages() -> None:
    converter = data_converter(Keyring({"k1": new_key()}))
    assert converter.failure_converter_class is DefaultFailureConverterWithEncodedAttributes

    [payload] = await converter.encode([{"email": MARKER}])
    assert payload.metadata["encoding"] == ENCODING
    assert await converter.decode([payload]) == [{"email": MARKER}]

    failure = Failure()
    await converter.encode_failure(ApplicationError(f"cannot write {MARKER}"), failure)
    assert MARKER.encode() not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    assert failure.encoded_attributes.metadata["encoding"] == ENCODING
    error = await converter.decode_failure(failure)
    assert str(error) == f"cannot write {MARKER}"


# --- keyring ----------------------------------------------------------------------------


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def mount_like_kubelet(directory: Path, files: dict[str, str]) -> None:
    """Lay files out as the kubelet mounts a Secret: visible names → ..data → timestamped dir."""
    versioned = directory / "..2026_11_26_17_00_00.123456789"
    versioned.mkdir(parents=True)
    for name, content in files.items():
        (versioned / name).write_text(content)
        (directory / name).symlink_to(Path("..data") / name)
    (directory / "..data").symlink_to(versioned.name)


def test_keyring_from_mounted_secret_loads_exactly_the_real_keys(tmp_path: Path) -> None:
    old, new = new_key(), new_key()
    # Whitespace as `base64` and editors write it: a trailing newline, wrapped lines.
    mount_like_kubelet(
        tmp_path, {"k0001": b64(old) + "\n", "k0002": b64(new)[:20] + "\n" + b64(new)[20:]}
    )
    keyring = Keyring.from_directory(tmp_path)
    assert dict(keyring) == {"k0001": old, "k0002": new}
    assert keyring.newest_id == "k0002"


def test_keyring_from_mapping_takes_base64() -> None:
    key = new_key()
    keyring = Keyring.from_mapping({"2026-11-26": b64(key), "2026-05-01": b64(new_key()).encode()})
    assert keyring["2026-11-26"] == key
    assert keyring.newest_id == "2026-11-26"


def test_newest_is_lexical_so_unpadded_counters_sort_wrong() -> None:
    # Documented behaviour: pad counters, or k9 stays the newest after k10 is added.
    assert Keyring({"k9": new_key(), "k10": new_key()}).newest_id == "k9"


def test_empty_keyring_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringError, match="empty"):
        Keyring.from_mapping({})
    mount_like_kubelet(tmp_path / "keys", {})
    with pytest.raises(KeyringError, match="no keys"):
        Keyring.from_directory(tmp_path / "keys")
    with pytest.raises(KeyringError, match="does not exist"):
        Keyring.from_directory(tmp_path / "missing")


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_key_of_wrong_length_is_refused_naming_the_id_but_not_the_key(length: int) -> None:
    material = os.urandom(length)
    with pytest.raises(KeyringError) as caught:
        Keyring.from_mapping({"k0003": b64(material)})
    message = str(caught.value)
    assert "'k0003'" in message
    assert f"{length} bytes" in message
    if length:
        assert b64(material) not in message
        assert repr(material) not in message


@pytest.mark.parametrize("value", ["not base64!", "QUJD\x00REVG", "QUJDR", "äöü"])
def test_key_that_is_not_base64_is_refused_naming_the_id_but_not_the_value(value: str) -> None:
    with pytest.raises(KeyringError, match="'k0004' is not valid base64") as caught:
        Keyring.from_mapping({"k0004": value})
    assert value not in str(caught.value)


@pytest.mark.parametrize("key_id", ["", "key one", "k/1", "../k1", "ключ", "k1\n"])
def test_key_id_outside_the_allowed_characters_is_refused(key_id: str) -> None:
    with pytest.raises(KeyringError, match="is not allowed") as caught:
        Keyring.from_mapping({key_id: b64(new_key())})
    assert repr(key_id) in str(caught.value)
    with pytest.raises(KeyringError, match="is not allowed"):
        Keyring({key_id: new_key()})


def test_keyring_repr_shows_ids_not_keys() -> None:
    key = new_key()
    shown = repr(Keyring({"k1": key}))
    assert "k1" in shown
    assert repr(key) not in shown
    assert b64(key) not in shown
