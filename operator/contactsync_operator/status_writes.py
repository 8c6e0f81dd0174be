"""Whether a reconcile's status needs writing at all (pure).

Every timer tick computes the whole status again, and at rest it is the same as the last one:
patching it anyway costs the API server a request per ContactSync per period for nothing. A
status is left unwritten when this process wrote the very same one last time and the stored
status still holds every value of it. The stored one may hold more: the CRD's defaults, which
the operator leaves to the API server, fill in what it did not set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Where the handlers keep, per ContactSync (Kopf's memo is per object), what they last wrote.
LAST_WRITTEN = "contactsync.dev/last-written-status"


def holds(stored: object, written: object) -> bool:
    """True when ``stored`` has every value of ``written``: the same keys with the same values
    (recursively), lists item by item, and maybe more keys."""
    if isinstance(written, Mapping):
        return isinstance(stored, Mapping) and all(
            key in stored and holds(stored[key], value) for key, value in written.items()
        )
    if isinstance(written, list):
        return (
            isinstance(stored, list)
            and len(stored) == len(written)
            and all(holds(s, w) for s, w in zip(stored, written, strict=True))
        )
    return bool(stored == written)


def needs_writing(
    written: Mapping[str, Any], stored: Mapping[str, Any], last_written: object
) -> bool:
    """False only when ``written`` is what this process wrote last and is still stored; after a
    restart, or a change by anyone, it is written."""
    return written != last_written or not holds(stored, written)
