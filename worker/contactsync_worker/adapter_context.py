"""What a region hands every source and destination adapter it builds (see adapters.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contactsync_api.egress import RegionEgress
from contactsync_worker.contacts.model import FieldPolicy


@dataclass(frozen=True)
class AdapterContext:
    """What a region gives every adapter it builds."""

    policy: FieldPolicy  # the fields a source may read, and consent and identity
    secrets_dir: Path  # where the Secrets the spec names are mounted
    egress: RegionEgress | None  # where the adapter may connect; None: not restricted
