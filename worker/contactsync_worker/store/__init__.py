"""The region-local state store: what a sync remembers between runs, and the audit chain.

It holds no contact content, only ids, pseudonyms, content hashes, sync tokens and times.
Each method is one transaction (or part of the caller's, in an ``atomic`` block) and takes
or returns a page at a time (the worker works in pages of ~500 contacts). One database can
serve several ContactSyncs: every row belongs to a ``scope`` ("namespace/name/region").

Two implementations behave the same: :class:`~contactsync_worker.store.sqlite.SqliteStore`
(local mode, a file on the worker's volume) and
:class:`~contactsync_worker.store.postgres.PostgresStore` (a region's PostgreSQL).
Both create and migrate their schema on first use.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from contactsync_worker.audit import AuditAnchor, AuditEvent, AuditRecord, ChainHead

# The content hash of an item whose writes are not done (or that must be read again): no
# content hashes to it, so the next sync that sees the item treats it as changed.
PENDING_HASH = "pending"


class PseudonymKeyMismatch(RuntimeError):
    """The pseudonym key differs from the one the scope's rows were written with.

    Continuing would miss every stored identity and duplicate known contacts downstream.
    """


class StoreSchemaTooNew(RuntimeError):
    """The database was migrated by a newer worker than this one."""


@dataclass(frozen=True)
class ItemWrite:
    """What a sync records about one source item after writing it."""

    item_id: str
    contact_id: str
    content_hash: str


@dataclass(frozen=True)
class ItemKey:
    """Position of an item across sources, for paging through removed items."""

    source: str
    item_id: str


@dataclass(frozen=True)
class ItemState:
    """What the store knows about one source item."""

    source: str
    item_id: str
    contact_id: str
    content_hash: str
    last_seen_run: str | None
    removed_at: datetime | None  # when it was first found gone from its source


@dataclass(frozen=True)
class WrittenRef:
    """A contact this scope wrote to a destination."""

    destination: str
    contact_id: str


@dataclass(frozen=True)
class SubjectRows:
    """Every state row that refers to one data subject (one or several merged contacts)."""

    contact_ids: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()  # all identity pseudonyms bound to those contacts
    items: tuple[ItemState, ...] = ()
    written: tuple[WrittenRef, ...] = ()
    uids: tuple[str, ...] = ()  # uid pseudonyms its items carry, whatever spec.identity says

    @property
    def empty(self) -> bool:
        return not self.contact_ids


@dataclass(frozen=True)
class Suppression:
    """One entry of the suppression list: an identity pseudonym an erasure left behind, so
    later syncs skip every record that carries it. No contact data: the value is keyed."""

    pseudonym: str
    kind: str  # email, phone or uid: which key the value was, never the value
    erasure: str  # the erasure's request id; lifting any entry lifts all of its request
    key: str  # fingerprint of the pseudonym key it was made with


@dataclass(frozen=True)
class AuditPurge:
    purged: int  # audit records removed
    anchor: AuditAnchor | None  # where verification now starts
    record: AuditRecord | None  # the audit_purged record appended, if anything was purged


class StateStore(Protocol):
    """Sync state and audit chain of one or several scopes. Every method is one transaction."""

    async def aclose(self) -> None: ...

    def atomic(self) -> AbstractAsyncContextManager[StateStore]:
        """One write transaction for several calls: the store it yields runs each call in it,
        and they commit together when the block ends, or none does. Inside the block use only
        that store (the outer one waits for the transaction to end)."""
        ...

    async def lock_identities(self, scope: str) -> None:
        """Inside :meth:`atomic`: until the block ends, no other page of the scope (on any
        worker) decides which contacts its records belong to."""
        ...

    async def reserve_deletions(self, scope: str, run: str, count: int) -> int:
        """Count ``count`` more deletions of ``run``; returns the run's total so far."""
        ...

    async def run_held(self, scope: str, run: str, destination: str, held_now: int) -> int:
        """The contacts ``destination`` held when ``run`` first counted deletions there
        (``held_now`` plus the run's earlier deletions, recorded by the first call)."""
        ...

    async def forget_run(self, scope: str, run: str) -> int:
        """Forget what was counted for ``run`` (when it ends)."""
        ...

    async def check_pseudonym_key(self, scope: str, fingerprint: str) -> None:
        """Remember the first key's fingerprint; raise PseudonymKeyMismatch on another."""
        ...

    async def adopt_pseudonym_key(self, scope: str, fingerprint: str, previous: str | None) -> bool:
        """As check_pseudonym_key, but a scope written with ``previous`` is re-keyed to
        ``fingerprint`` (identities and sync tokens forgotten, items to be read again);
        returns whether that happened."""
        ...

    # Checkpoints: committed by the caller only after the writes they cover.
    async def get_checkpoint(self, scope: str, source: str) -> str | None: ...

    async def commit_checkpoint(self, scope: str, source: str, checkpoint: str | None) -> None:
        """Store a source's sync token; None clears it (the next run reads everything)."""
        ...

    # Source items.
    async def get_items(
        self, scope: str, source: str, item_ids: Collection[str]
    ) -> dict[str, ItemState]: ...

    async def upsert_items(
        self, scope: str, source: str, items: Sequence[ItemWrite], run: str
    ) -> None:
        """Record items as written and seen in ``run``; a reappearing item is no longer removed."""
        ...

    async def mark_seen(self, scope: str, source: str, item_ids: Collection[str], run: str) -> int:
        """Unchanged items seen in ``run`` (also clears removed_at). Returns rows touched."""
        ...

    async def unseen_items(
        self, scope: str, source: str, run: str, *, after: str | None = None, limit: int = 1000
    ) -> list[ItemState]:
        """Items not seen in ``run`` and not yet marked removed, by item_id after ``after``."""
        ...

    async def mark_removed(self, scope: str, source: str, item_ids: Collection[str]) -> int:
        """Set removed_at = now where not set yet (a second call keeps the first time)."""
        ...

    async def removed_items(
        self,
        scope: str,
        grace: timedelta,
        *,
        source: str | None = None,
        after: ItemKey | None = None,
        limit: int = 1000,
    ) -> list[ItemState]:
        """Items removed at least ``grace`` ago, ordered by (source, item_id) after ``after``."""
        ...

    async def forget_items(self, scope: str, source: str, item_ids: Collection[str]) -> int: ...

    async def forget_sync_state(self, scope: str) -> int:
        """Drop the scope's sync tokens, items, identities and written records (after a
        purge: a ContactSync created again under the name starts from nothing). The audit
        chain and the suppression list stay: an erased person stays erased."""
        ...

    async def contributors(
        self, scope: str, contact_ids: Collection[str]
    ) -> dict[str, list[ItemState]]:
        """contact_id → the source items merged into it (removed ones included, flagged)."""
        ...

    # Identity index: identity pseudonym → contact_id.
    async def bind_identities(self, scope: str, bindings: Mapping[str, str]) -> None:
        """pseudonym → contact_id; an existing binding is moved to the new contact."""
        ...

    async def lookup_identities(
        self, scope: str, pseudonyms: Collection[str]
    ) -> dict[str, str]: ...

    async def identities_of(
        self, scope: str, contact_ids: Collection[str]
    ) -> dict[str, list[str]]: ...

    async def unbind_identities(self, scope: str, pseudonyms: Collection[str]) -> int: ...

    async def rebind_contacts(self, scope: str, old_ids: Collection[str], new_id: str) -> int:
        """Merge: move identities and items of ``old_ids`` to ``new_id``; returns identities moved.

        Destination rows stay under the old ids: they still exist downstream, and the
        caller deletes them there and then forgets them here.
        """
        ...

    # Per destination: what was written, so unchanged records are not rewritten.
    async def written_hashes(
        self, scope: str, destination: str, contact_ids: Collection[str]
    ) -> dict[str, str]: ...

    async def record_written(
        self, scope: str, destination: str, hashes: Mapping[str, str]
    ) -> None: ...

    async def record_written_audited(
        self,
        scope: str,
        destination: str,
        hashes: Mapping[str, str],
        events: Sequence[AuditEvent],
    ) -> None:
        """record_written and append_audit in one transaction: what was written downstream
        is remembered exactly when it is audited, so a retry neither loses nor repeats it."""
        ...

    async def forget_written_audited(
        self,
        scope: str,
        destination: str,
        contact_ids: Collection[str],
        events: Sequence[AuditEvent],
    ) -> int:
        """forget_written and append_audit in one transaction."""
        ...

    async def written_ids(
        self, scope: str, destination: str, *, after: str | None = None, limit: int = 1000
    ) -> list[str]: ...

    async def count_written(self, scope: str, destination: str) -> int: ...

    async def forget_written(
        self, scope: str, destination: str, contact_ids: Collection[str]
    ) -> int: ...

    async def index_carried(
        self, scope: str, source: str, carried: Mapping[str, Mapping[str, str]]
    ) -> None:
        """item_id → {pseudonym: kind} of every identity value the item carries (all keys,
        not only spec.identity's), replacing what was indexed for those items: what an
        erasure finds people by."""
        ...

    # Erasure: the caller deletes ``find_subject(...).written`` downstream, then erases here.
    async def find_subject(self, scope: str, pseudonyms: Collection[str]) -> SubjectRows:
        """The contacts bound to, or whose items carry, any of ``pseudonyms``."""
        ...

    async def erase_subject(self, scope: str, pseudonyms: Collection[str]) -> SubjectRows:
        """Delete every row of the subjects found by ``pseudonyms``; returns what was deleted."""
        ...

    # Suppression list: survives purges, re-keying and erasure, and goes only when lifted.
    async def suppress(self, scope: str, entries: Sequence[Suppression]) -> int:
        """Add entries (a pseudonym already suppressed keeps its first entry); returns how
        many were new."""
        ...

    async def suppressions(
        self, scope: str, pseudonyms: Collection[str]
    ) -> dict[str, Suppression]: ...

    async def lift_suppressions(self, scope: str, pseudonyms: Collection[str]) -> list[Suppression]:
        """Delete every entry of each erasure that suppressed any of ``pseudonyms``; returns
        the entries deleted."""
        ...

    # Audit chain (format and verification: ``contactsync_worker.audit``).
    async def append_audit(self, scope: str, events: Sequence[AuditEvent]) -> list[AuditRecord]:
        """Seal and append under the chain's lock, so concurrent writers never fork it."""
        ...

    async def audit_records(
        self, scope: str, *, after_seq: int = 0, limit: int = 1000
    ) -> list[AuditRecord]: ...

    async def audit_head(self, scope: str) -> ChainHead: ...

    async def audit_anchor(self, scope: str) -> AuditAnchor | None: ...

    async def purge_audit(self, scope: str, older_than: timedelta) -> AuditPurge:
        """Remove the oldest records older than ``older_than`` and anchor the chain after them.

        Raises AuditChainBroken if the records to remove do not verify.
        """
        ...


__all__ = [
    "PENDING_HASH",
    "ItemKey",
    "ItemState",
    "ItemWrite",
    "PseudonymKeyMismatch",
    "PurgeResult",
    "StateStore",
    "StoreSchemaTooNew",
    "SubjectRows",
    "Suppression",
    "WrittenRef",
]
