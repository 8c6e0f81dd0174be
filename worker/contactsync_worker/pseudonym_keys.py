"""Which pseudonym key a region's workers use, and the one a store may still be written with.

The region's keys Secret holds a dedicated ``pseudonym`` key (32 random bytes, base64), apart
from the payload keys, so payload keys rotate and retire freely. A ContactSync from before the
dedicated key had its pseudonym key derived from the oldest payload key; without a
``pseudonym`` entry that derivation still applies, and that payload key must stay.

Rotation: put the new key under ``pseudonym`` and the old one under ``pseudonym-previous``
(from the derived key, just add ``pseudonym``: the derived key is the previous one). A worker
that finds its store written with the previous key re-keys it (the store forgets identities
and sync tokens and the next sync reads every source whole, binding identities anew under
the new key; contact ids stay, so nothing is duplicated or rewritten). Then remove
``pseudonym-previous``. A store written with any other key is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contactsync_worker.keyring import (
    PREVIOUS_PSEUDONYM_KEY,
    PSEUDONYM_KEY,
    Keyring,
    decode_secret_key,
)
from contactsync_worker.pseudonym import Pseudonymizer, derive_key


@dataclass(frozen=True)
class PseudonymKeys:
    current: Pseudonymizer
    previous: Pseudonymizer | None  # a store written with this one is re-keyed to current
    dedicated: bool  # False: derived from the oldest payload key (before dedicated keys)
    secret: bytes  # the key material behind ``current``, for keys derived alongside it


def load_pseudonym_keys(keys_dir: Path, keyring: Keyring, region: str) -> PseudonymKeys:
    oldest = keyring[min(keyring)]
    derived = Pseudonymizer(derive_key(oldest, region))
    current = _read(keys_dir / PSEUDONYM_KEY)
    if current is None:
        return PseudonymKeys(derived, None, dedicated=False, secret=oldest)
    previous = _read(keys_dir / PREVIOUS_PSEUDONYM_KEY)
    return PseudonymKeys(
        Pseudonymizer(derive_key(current, region)),
        Pseudonymizer(derive_key(previous, region)) if previous else derived,
        dedicated=True,
        secret=current,
    )


def _read(path: Path) -> bytes | None:
    return decode_secret_key(path.name, path.read_bytes()) if path.is_file() else None
