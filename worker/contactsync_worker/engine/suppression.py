"""The suppression list: people an erasure removed stay out of every later sync.

An erasure suppresses the identity values it was asked for, and the uids of the records it
found (a uid names its record; another email or phone of theirs may be a shared mailbox or
switchboard, and suppressing it would hide colleagues). A sync then skips every record that
carries a suppressed value under any identity key, from every source, and audits the skip
by pseudonym. Only a signed lift request ends a suppression, and it ends every entry of the
erasures it names.

Entries are keyed pseudonyms, which a new pseudonym key cannot translate. During a rotation
the previous key still matches them; each match is suppressed again under the current key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from contactsync_api.workflows import SubjectIds, SuppressionLiftResult
from contactsync_worker.audit import AuditAction, AuditEvent, DetailValue
from contactsync_worker.contacts import identifiers
from contactsync_worker.contacts.model import Contact
from contactsync_worker.engine.contact_ids import new_contact_id
from contactsync_worker.engine.region import RegionRuntime
from contactsync_worker.store import Suppression

# A record's identity values as screening computes them: (value, index of the key in
# RegionRuntime.pseudonym_keys, pseudonym of the value under that key).
Carried = list[tuple[str, int, str]]


@dataclass(frozen=True)
class Screened:
    """A page's records split into those the sync goes on with and those it skips."""

    kept: list[Contact] = field(default_factory=list)
    skipped: list[Contact] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)  # one per skip, and re-keyings


async def suppress(region: RegionRuntime, entries: Mapping[str, str], erasure: str) -> int:
    """Suppress pseudonym → kind under the current key for ``erasure``; returns how many
    were new. Audited without naming anyone: the erasure's id and counts."""
    key = region.pseudonyms.fingerprint
    added = await region.store.suppress(
        region.scope,
        [Suppression(p, kind, erasure, key) for p, kind in sorted(entries.items())],
    )
    detail: dict[str, DetailValue] = {
        "erasure": erasure,
        "identifiers": len(entries),
        "new": added,
    }
    await region.store.append_audit(
        region.scope, [AuditEvent(AuditAction.SUPPRESSED, detail=detail)]
    )
    return added


async def screen(region: RegionRuntime, source: str, contacts: Sequence[Contact]) -> Screened:
    """Skip every record that carries a suppressed identity value."""
    if not contacts:
        return Screened()
    keys = region.pseudonym_keys
    carried: dict[str, Carried] = {
        c.item_id: [
            (value, index, key.identity(value))
            for value in identifiers.carried(c)
            for index, key in enumerate(keys)
        ]
        for c in contacts
    }
    wanted = {p for triples in carried.values() for _, _, p in triples}
    found = await region.store.suppressions(region.scope, wanted)
    if not found:
        return Screened(kept=list(contacts))
    screened = Screened()
    for contact in contacts:
        match = next((found[p] for _, _, p in carried[contact.item_id] if p in found), None)
        if match is None:
            screened.kept.append(contact)
            continue
        screened.skipped.append(contact)
        screened.events.append(
            AuditEvent(
                AuditAction.SKIPPED_SUPPRESSED,
                region.pseudonyms.subject(new_contact_id(region, contact)),
                source=source,
                detail={"erasure": match.erasure, "matched": match.kind},
            )
        )
    screened.events.extend(await _carry_forward(region, carried.values(), found))
    return screened


async def _carry_forward(
    region: RegionRuntime, carried: Iterable[Carried], found: Mapping[str, Suppression]
) -> list[AuditEvent]:
    """Suppress again under the current key what matched only under the previous one."""
    current = region.pseudonyms
    moved: dict[str, Suppression] = {}
    for triples in carried:
        for value, index, pseudonym in triples:
            entry = found.get(pseudonym)
            now = current.identity(value)
            if index == 0 or entry is None or now in found:
                continue
            moved[now] = Suppression(now, entry.kind, entry.erasure, current.fingerprint)
    if not moved:
        return []
    await region.store.suppress(region.scope, list(moved.values()))
    per_erasure = Counter(e.erasure for e in moved.values())
    return [
        AuditEvent(
            AuditAction.SUPPRESSED,
            detail={"erasure": erasure, "identifiers": count, "rekeyed": True},
        )
        for erasure, count in sorted(per_erasure.items())
    ]


async def lift(region: RegionRuntime, subject: SubjectIds, request: str) -> SuppressionLiftResult:
    """End the suppression of every erasure that suppressed any value ``subject`` names,
    and have the next sync read every source whole, so records it skipped are written."""
    values = identifiers.named(subject)
    pseudonyms = [key.identity(v) for v in values for key in region.pseudonym_keys]
    lifted = await region.store.lift_suppressions(region.scope, pseudonyms)
    per_erasure = Counter(e.erasure for e in lifted)
    events = [
        AuditEvent(
            AuditAction.SUPPRESSION_LIFTED,
            detail={"erasure": erasure, "identifiers": count, "request": request},
        )
        for erasure, count in sorted(per_erasure.items())
    ] or [AuditEvent(AuditAction.SUPPRESSION_LIFTED, detail={"found": False, "request": request})]
    await region.store.append_audit(region.scope, events)
    if lifted:
        # A delta source (CardDAV) would not list an unchanged record again.
        for source in region.source_order:
            await region.store.commit_checkpoint(region.scope, source, None)
    return SuppressionLiftResult(erasures_lifted=len(per_erasure), identifiers_lifted=len(lifted))
