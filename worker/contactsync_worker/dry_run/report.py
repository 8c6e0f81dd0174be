"""What a dry run found: counts per destination and source, the mass-delete guard's verdict,
and (only when asked) which contacts would change. ``describe`` words it, one line each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from contactsync_api.workflows import SyncSummary


class Change(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


@dataclass(frozen=True)
class ContactChange:
    """One write the sync would make, by contact id. ``fields``: the names of the fields
    the written record would hold (none for a delete); ``values`` only when asked for."""

    contact_id: str
    change: Change
    fields: tuple[str, ...] = ()
    values: Mapping[str, object] | None = None


@dataclass(frozen=True)
class DestinationPlan:
    """What the sync would do to one destination. ``held``: the contacts this sync had
    written there before the run, as the state store knows them; ``unchanged``: those of
    them it would leave as they are."""

    name: str
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    held: int = 0
    changes: tuple[ContactChange, ...] = ()


@dataclass(frozen=True)
class SourceReading:
    """What the sync would read from one source. ``whole``: read from start to end with
    nothing set aside, so records it no longer lists would be found removed."""

    name: str
    read: int = 0
    skipped_no_consent: int = 0
    skipped_suppressed: int = 0
    quarantined: int = 0
    whole: bool = False
    # A delta listing (a CardDAV sync token): the changes since the last sync, whose
    # removals the source names itself; "whole" does not apply.
    delta: bool = False


@dataclass(frozen=True)
class GuardCheck:
    """The mass-delete guard on one destination: ``planned`` deletions of ``held``."""

    destination: str
    planned: int
    held: int
    limit_percent: int
    blocked: bool

    @property
    def percent(self) -> int:
        return self.planned * 100 // self.held if self.held else 0


@dataclass(frozen=True)
class DryRunReport:
    """A dry run of one region's sync. ``summary`` is what the sync would report; when
    ``blocked``, the guard would stop it where ``blocked_message`` says, after the writes
    counted here (earlier pages are written before a later one trips the guard)."""

    scope: str
    summary: SyncSummary
    destinations: tuple[DestinationPlan, ...]
    sources: tuple[SourceReading, ...]
    guard: tuple[GuardCheck, ...] = ()
    blocked_message: str = ""
    rekeyed: bool = False  # the pseudonym key rotates: the sync re-keys the store first
    detail: bool = False  # whether ``changes`` were collected

    @property
    def blocked(self) -> bool:
        return any(v.blocked for v in self.guard)


def describe(report: DryRunReport) -> list[str]:
    """The report as lines for a person: no contact values unless the report carries them."""
    lines = [f"dry run of {report.scope}: nothing was written"]
    if report.rekeyed:
        lines.append("the pseudonym key rotates: the sync re-keys the store and reads every source")
    for source in report.sources:
        lines.append(
            f"source {source.name}: read {source.read}, skipped without consent "
            f"{source.skipped_no_consent}, skipped as erased {source.skipped_suppressed}, "
            f"quarantined {source.quarantined}" + _coverage(source)
        )
    for plan in report.destinations:
        lines.append(
            f"destination {plan.name}: would create {plan.created}, update {plan.updated}, "
            f"delete {plan.deleted}, unchanged {plan.unchanged} (of {plan.held} held)"
        )
        lines += [f"  {_change(change)}" for change in plan.changes]
        if report.detail and not plan.changes:
            lines.append("  no contact would change")
    for verdict in report.guard:
        state = "BLOCKS the sync" if verdict.blocked else "allows"
        lines.append(
            f"mass-delete guard on {verdict.destination}: {state} ({verdict.planned} of "
            f"{verdict.held}, {verdict.percent}%, limit {verdict.limit_percent}%)"
        )
    if report.blocked:
        lines.append(f"the sync would stop: {report.blocked_message}")
    summary = report.summary
    lines.append(
        f"summary: created {summary.created}, updated {summary.updated}, deleted "
        f"{summary.deleted}, unchanged {summary.unchanged}, held for the grace period "
        f"{summary.held}, pages {summary.pages}"
    )
    if (
        summary.dropped_values
        or summary.quarantined_invalid_values
        or (summary.quarantined_no_identity)
    ):
        lines.append(
            f"values not what their field says: emails dropped {summary.dropped_emails}, "
            f"phones dropped {summary.dropped_phones}; records set aside for such values "
            f"{summary.quarantined_invalid_values}, for having no identity and no name "
            f"{summary.quarantined_no_identity}"
        )
    return lines


def _change(change: ContactChange) -> str:
    text = f"{change.change} {change.contact_id}"
    if change.fields:
        text += f": {', '.join(change.fields)}"
    if change.values is not None:
        text += " " + ", ".join(f"{k}={v!r}" for k, v in change.values.items())
    return text


def _coverage(source: SourceReading) -> str:
    if source.delta:
        return " (its changes since the last sync; it names what it removed)"
    return "" if source.whole else " (not read whole: nothing it lacks is found removed)"
