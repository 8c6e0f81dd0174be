"""Signed audit checkpoints: the chain's head, signed with a key the state store never holds.

Whoever can write the state store can rewrite the audit chain and hash it again, or wipe it,
and the chain on its own still verifies. So at the end of every sync run the worker signs the
head (its seq and hash) with a key derived from the region's keys Secret and publishes the
token outside the store: in the ContactSync's status (``regions[].lastSync.auditCheckpoint``)
and in the worker's log. ``contactsync audit verify --checkpoint TOKEN`` checks the signature
and that the chain still holds that record with that hash, so a rewrite or a wipe of anything
up to the checkpoint is found. Verify against the latest checkpoint: the key follows the
region's pseudonym key, and a rotation of that key starts a new series.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from contactsync_worker.audit import ChainHead
from contactsync_worker.pseudonym import derive_key

VERSION = "v1"
_INFO = b"contactsync audit checkpoint"


class CheckpointError(ValueError):
    """A token that does not parse, or whose signature this region's key does not make."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    mac: str

    @property
    def token(self) -> str:
        return f"{VERSION}.{self.seq}.{self.hash}.{self.mac}"


def checkpoint_key(secret: bytes, region: str) -> bytes:
    """The region's signing key, derived from its key material apart from every other use."""
    return derive_key(secret, region, purpose=_INFO)


def sign(key: bytes, scope: str, head: ChainHead) -> Checkpoint:
    return Checkpoint(head.seq, head.hash, _mac(key, scope, head.seq, head.hash))


def parse(key: bytes, scope: str, token: str) -> Checkpoint:
    """The checkpoint a token states, once its signature checks out for ``scope``."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != VERSION or not parts[1].isdigit():
        raise CheckpointError(f"not a {VERSION} audit checkpoint token")
    seq, digest, mac = int(parts[1]), parts[2], parts[3]
    if not hmac.compare_digest(mac, _mac(key, scope, seq, digest)):
        raise CheckpointError(
            f"the checkpoint's signature does not match {scope}'s key: it was altered, or it "
            "belongs to another region or an earlier pseudonym key"
        )
    return Checkpoint(seq, digest, mac)


def _mac(key: bytes, scope: str, seq: int, digest: str) -> str:
    message = f"{VERSION}\n{scope}\n{seq}\n{digest}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
