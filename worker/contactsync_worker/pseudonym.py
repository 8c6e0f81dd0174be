"""Keyed pseudonyms: how the state store and the audit chain refer to people without their data.

A pseudonym is HMAC-SHA256(key, purpose || 0x00 || value) in hex. Unlike a plain hash it
cannot be reversed by hashing guessed addresses without the key; with the key, an erasure
request for ``email:erika@example.org`` recomputes the pseudonym and finds the person's rows.

The key is per region and must outlive the store it was used with: under a new key every
stored pseudonym becomes unreachable, known people look new and are written again as
duplicates. So derive it from a *fixed* secret (a dedicated key file, or one named key of the
region keyring via :func:`derive_key`), never from "the newest key", which rotates.
Stores remember :attr:`Pseudonymizer.fingerprint` and refuse a different key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_BYTES = 32  # HMAC-SHA256 gains nothing from more, and fewer weakens it

# Purposes keep the pseudonym spaces apart: an identity pseudonym never equals a subject
# pseudonym of the same string, so rows of one kind cannot be joined to the other by value.
_IDENTITY = b"identity"
_SUBJECT = b"subject"
_FINGERPRINT = b"fingerprint"
_DERIVE_INFO = b"contactsync pseudonym key v1"


class Pseudonymizer:
    """Computes pseudonyms under one region's key. The key never appears in repr or errors."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(
                f"a pseudonym key needs at least {MIN_KEY_BYTES} bytes, got {len(key)}"
            )
        self._key = bytes(key)

    def identity(self, value: str) -> str:
        """Pseudonym of a normalized identity value as ``Contact.identity`` builds it
        (``email:erika@example.org``, ``uid:42``, ``phone:+4930123456``)."""
        return self._mac(_IDENTITY, value)

    def identities(self, values: Iterable[str]) -> list[str]:
        """Pseudonyms of several identity values, in order."""
        return [self.identity(value) for value in values]

    def subject(self, contact_id: str) -> str:
        """Pseudonym of a data subject for the audit chain, from the contact's stable id.

        After an erasure the store no longer links it to any identity, so audit records
        that name it stay verifiable without pointing back at the person.
        """
        return self._mac(_SUBJECT, contact_id)

    @property
    def fingerprint(self) -> str:
        """A short, non-secret id of the key, so a store can tell that the key changed."""
        return self._mac(_FINGERPRINT, "")[:16]

    def __repr__(self) -> str:
        return f"Pseudonymizer(fingerprint={self.fingerprint!r})"

    def _mac(self, purpose: bytes, value: str) -> str:
        message = purpose + b"\x00" + value.encode("utf-8")
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()


class MemoPseudonymizer(Pseudonymizer):
    """A Pseudonymizer that computes each pseudonym once: one page's records are screened,
    identified, indexed and audited by the same values. Made per page and dropped with
    it, so the values it maps do not outlive the page in memory."""

    __slots__ = ("_memo",)

    def __init__(self, key: bytes) -> None:
        super().__init__(key)
        self._memo: dict[tuple[bytes, str], str] = {}

    @classmethod
    def of(cls, pseudonyms: Pseudonymizer) -> MemoPseudonymizer:
        return cls(pseudonyms._key)

    def _mac(self, purpose: bytes, value: str) -> str:
        found = self._memo.get((purpose, value))
        if found is None:
            found = self._memo[(purpose, value)] = super()._mac(purpose, value)
        return found


def derive_key(secret: bytes, region: str, purpose: bytes = _DERIVE_INFO) -> bytes:
    """A region's key for ``purpose`` (pseudonyms by default) from a long-lived secret
    (HKDF-SHA256, bound to the region and the purpose).

    Keeps each use apart from the payload-codec use of the same secret, and from the others;
    pass a secret that does not rotate (see the module docstring).
    """
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=MIN_KEY_BYTES,
        salt=None,
        info=purpose + b"\x00" + region.encode("utf-8"),
    )
    return hkdf.derive(secret)
