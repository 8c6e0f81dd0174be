"""Annotations a person sets on a ContactSync to change what deleting it does."""

from __future__ import annotations

from collections.abc import Mapping

# Delete without cleaning up Temporal at all: schedules stay, nothing is purged.
FORCE_DELETE = "contactsync.dev/force-delete"
# Delete (or retire a region) without purging what it wrote; schedules are still removed.
SKIP_PURGE = "contactsync.dev/skip-purge"


def is_set(annotations: Mapping[str, str], key: str) -> bool:
    return annotations.get(key) == "true"
