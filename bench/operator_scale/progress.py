"""How far the operator has got with each ContactSync, read from its status alone (pure).

The benchmark's cluster has no Node, so no worker pod ever becomes ready, and the operator
rightly never reports a ContactSync Ready: Ready is False with reason WorkersNotReady as long as
a served region has desired workers and none ready. What is measured instead:

- *reconciled*: the status is written for the current generation (``observedGeneration`` and
  every condition's), nothing is Degraded or Stalled, each region has its schedule ids, and the
  one thing Ready waits for is workers. The operator writes status after it has applied every
  child and created every schedule, so this is the end of its first pass.
- *settled*: reconciled, and Progressing no longer says Applying: a later reconcile (the resync
  timer's) found nothing left to apply. Progressing stays True, with reason WaitingForWorkers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contactsync_api.reasons import Reason
from contactsync_api.status import ConditionType

_CONDITIONS = tuple(ConditionType)


@dataclass(frozen=True)
class Progress:
    total: int
    reconciled: int
    settled: int
    degraded: tuple[str, ...]  # namespace/name: message, for the first few Degraded

    def done(self, expected: int) -> bool:
        return self.total == expected and self.reconciled == expected

    def settled_all(self, expected: int) -> bool:
        return self.total == expected and self.settled == expected


def _conditions(status: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {c.get("type", ""): c for c in status.get("conditions") or []}


def reconciled(body: Mapping[str, Any], regions: int) -> bool:
    generation = body.get("metadata", {}).get("generation")
    status = body.get("status") or {}
    if generation is None or status.get("observedGeneration") != generation:
        return False
    conditions = _conditions(status)
    if any(conditions.get(t, {}).get("observedGeneration") != generation for t in _CONDITIONS):
        return False
    if any(conditions[t].get("status") != "False" for t in ("Degraded", "Stalled")):
        return False
    ready = conditions["Ready"]
    waiting_for_pods = ready.get("reason") == Reason.WORKERS_NOT_READY
    if ready.get("status") != "True" and not waiting_for_pods:
        return False
    served = status.get("regions") or []
    return len(served) == regions and all(r.get("scheduleId") for r in served)


def settled(body: Mapping[str, Any], regions: int) -> bool:
    status = body.get("status") or {}
    progressing = _conditions(status).get("Progressing", {})
    return reconciled(body, regions) and progressing.get("reason") != Reason.APPLYING


def progress(items: Iterable[Mapping[str, Any]], regions: int, show: int = 3) -> Progress:
    listed = list(items)
    degraded: list[str] = []
    for body in listed:
        condition = _conditions(body.get("status") or {}).get("Degraded", {})
        if condition.get("status") == "True" and len(degraded) < show:
            meta = body.get("metadata", {})
            degraded.append(
                f"{meta.get('namespace')}/{meta.get('name')}: {condition.get('message')}"
            )
    return Progress(
        total=len(listed),
        reconciled=sum(reconciled(b, regions) for b in listed),
        settled=sum(settled(b, regions) for b in listed),
        degraded=tuple(degraded),
    )
