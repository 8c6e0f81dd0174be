"""The Warning Event a failed sync run is reported by, once (pure).

A run's failure is in the region's ``lastSync`` already; the Event puts it where people and
tools watch (``kubectl get events --field-selector reason=SourceAuthenticationRefused``),
with the type the worker gave it as its reason. Each reconcile compares the status it writes
with the one before, so a run is reported when it is first seen failed, and an operator that
restarts does not report it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contactsync_api.status import SyncResult

Event = tuple[str, str, str]  # (type, reason, message), as the reconciler's events
_FAILED = frozenset({SyncResult.FAILED.value, SyncResult.BLOCKED.value})
# A run that failed without a type from the worker: Temporal timed it out or terminated it.
RUN_FAILED = "SyncFailed"


def failed_runs(
    before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]
) -> list[Event]:
    """A Warning Event for each region whose latest run, in the status written now (``after``),
    failed and is not the run the status held before (``before``), as serialized statuses'
    ``regions``."""
    known = {region.get("name"): _run(region.get("lastSync")) for region in before}
    events = []
    for region in after:
        last = region.get("lastSync") or {}
        if last.get("result") not in _FAILED or known.get(region.get("name")) == _run(last):
            continue
        reason = last.get("failureType") or RUN_FAILED
        message = last.get("message") or "the sync run failed"
        events.append(("Warning", str(reason), f"region {region.get('name')}: {message}"))
    return events


def _run(last: Mapping[str, Any] | None) -> tuple[object, object] | None:
    """Which run a lastSync describes: its workflow id names the schedule's run, and the time
    it finished tells a run continued as new from one that ended."""
    return (last.get("workflowId"), last.get("finishedAt")) if last else None
