"""Source adapters: one module per external system. Each reads incrementally and returns
only allowed fields (minimization happens here, before a Contact exists)."""

from __future__ import annotations

from typing import Protocol

from contactsync_worker.contacts.model import Contact, Page


class SourceAdapter(Protocol):
    async def fetch(self, cursor: str | None, checkpoint: str | None) -> Page:
        """The next page. ``cursor`` continues a run; ``checkpoint`` is the last committed
        sync token (delta sources), None for a full read."""
        ...

    async def fetch_items(self, item_ids: list[str]) -> list[Contact]:
        """Current records by id, for re-merging a contact another source changed."""
        ...

    async def aclose(self) -> None: ...
