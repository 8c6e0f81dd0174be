"""Source adapters: one module per external system. Each reads incrementally and returns
only allowed fields (minimization happens here, before a Contact exists)."""

from __future__ import annotations

from typing import Protocol

from contactsync_worker.contacts.model import Contact, Page


class SourceUnavailable(RuntimeError):
    """The source cannot be read now (network, auth, server error). Retry later; never a
    reason to delete anything downstream."""


class CursorExpired(SourceUnavailable):
    """The cursor belongs to a state of the source that is gone (the file changed, the LDAP
    paging session ended): start the run again with ``cursor=None`` and discard what it saw.

    A SourceUnavailable, so a caller that does not know it still deletes nothing.
    """


class SourceAdapter(Protocol):
    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        """The next page. ``cursor`` continues a run; ``checkpoint`` is the last committed
        sync token (delta sources), None for a full read."""
        ...

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        """Current records by id, for re-merging a contact another source changed."""
        ...

    async def aclose(self) -> None: ...
