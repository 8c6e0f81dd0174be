"""The payload codec's keyring: key id → AES-256 key, one keyring per region.

A keyring is usually a mounted Kubernetes Secret, one file per key::

    /etc/contactsync/keys/2026-05-01   base64 of 32 random bytes
    /etc/contactsync/keys/2026-11-26   base64 of 32 random bytes

The newest key encrypts; every key decrypts, so a rotation is "add a newer key,
roll the workers, retire the old key once no history still needs it".

"Newest" is the greatest key id in lexical (code point) order, so choose ids
that sort by age: dates such as ``2026-11-26`` or zero-padded counters such as
``k0001``. ``k10`` sorts before ``k9``; that is why the padding matters.

The same Secret holds the region's pseudonym key under the reserved name ``pseudonym``
(and, while it is being rotated, the one before under ``pseudonym-previous``) and the seed
that signs purge and erasure requests under ``requests.key``: those are not payload keys and
the keyring skips them (see contactsync_worker.pseudonym_keys and .authorization).

Errors name key ids and never key material: ids are not secret, keys are.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

KEY_BYTES = 32  # AES-256
PSEUDONYM_KEY = "pseudonym"
PREVIOUS_PSEUDONYM_KEY = "pseudonym-previous"
# The seed that signs purge and erasure requests; workers are never given it.
REQUESTS_KEY = "requests.key"
RESERVED_NAMES = frozenset({PSEUDONYM_KEY, PREVIOUS_PSEUDONYM_KEY, REQUESTS_KEY})

# The characters Kubernetes allows in a Secret's data keys, so any key id here
# can be a file in a mounted Secret, and it is safe in payload metadata and logs.
_KEY_ID = re.compile(r"[A-Za-z0-9._-]+")


class KeyringError(ValueError):
    """The keyring cannot be built: empty, a malformed key, or a bad key id."""


class Keyring(Mapping[str, bytes]):
    """Read-only key id → 32-byte key; usually built by :meth:`from_directory`."""

    __slots__ = ("_keys", "_newest_id")

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        """Take raw 32-byte keys; the ``from_*`` constructors take them base64-encoded."""
        if not keys:
            raise KeyringError("the keyring is empty: it needs at least one key to encrypt with")
        for key_id, key in keys.items():
            _check_key_id(key_id)
            if len(key) != KEY_BYTES:
                raise KeyringError(
                    f"key {key_id!r} is {len(key)} bytes long; an AES-256 key is {KEY_BYTES} bytes"
                )
        self._keys = dict(keys)
        self._newest_id = max(self._keys)

    @classmethod
    def from_mapping(cls, encoded: Mapping[str, str | bytes]) -> Keyring:
        """Key id → base64 of the key, as in a Secret's ``stringData`` or a mounted file."""
        return cls(
            {
                key_id: _decode_key(key_id, value)
                for key_id, value in encoded.items()
                if key_id not in RESERVED_NAMES
            }
        )

    @classmethod
    def from_directory(cls, path: Path | str) -> Keyring:
        """Load every regular file in ``path`` as one key named by the file name.

        A mounted Secret also holds the kubelet's atomic-update machinery (the
        ``..data`` symlink and timestamped ``..2026_...`` directories); names
        starting with ``..`` are skipped. The visible key files are symlinks
        into them, which ``is_file`` follows.
        """
        directory = Path(path)
        if not directory.is_dir():
            raise KeyringError(f"keyring directory {str(directory)!r} does not exist")
        encoded = {
            entry.name: entry.read_bytes()
            for entry in sorted(directory.iterdir())
            if not entry.name.startswith("..")
            and entry.name not in RESERVED_NAMES
            and entry.is_file()
        }
        if not encoded:
            raise KeyringError(f"keyring directory {str(directory)!r} holds no keys")
        return cls.from_mapping(encoded)

    @property
    def newest_id(self) -> str:
        """The id of the key that encrypts: the greatest id in lexical order."""
        return self._newest_id

    def __getitem__(self, key_id: str) -> bytes:
        return self._keys[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._keys))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        # The default would be harmless, but a Mapping invites printing its items.
        return f"Keyring(key_ids={list(self)!r}, newest_id={self._newest_id!r})"


def _check_key_id(key_id: str) -> None:
    if not _KEY_ID.fullmatch(key_id):
        raise KeyringError(
            f"key id {key_id!r} is not allowed: use only letters, digits, '.', '_' and '-'"
        )


def _decode_key(key_id: str, value: str | bytes) -> bytes:
    _check_key_id(key_id)
    text = value.encode() if isinstance(value, str) else value
    try:
        # Files written by `echo`, editors or kubectl carry newlines; ignore all whitespace.
        return base64.b64decode(b"".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise KeyringError(f"key {key_id!r} is not valid base64 ({exc})") from exc


def decode_secret_key(name: str, encoded: str | bytes) -> bytes:
    """A 32-byte key from its base64 text (a pseudonym key file, say); errors name ``name``."""
    key = _decode_key(name, encoded)
    if len(key) != KEY_BYTES:
        raise KeyringError(f"key {name!r} is {len(key)} bytes long; it must be {KEY_BYTES} bytes")
    return key
