"""Counting the operator's requests to the API server from the API server's audit log.

The API server's own request metrics carry no client label, so they cannot tell the operator
from the controller manager. The audit log names the user of every request: the policy logs
the operator's ServiceAccount group at the Metadata level (no bodies) and nothing else. A
request may appear in several stages (a watch when it starts and when it ends); it is counted
once, by its audit id, at the time the API server received it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


def policy(group: str) -> dict[str, Any]:
    """An audit policy: every request of ``group`` at Metadata level, nothing else."""
    return {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [{"level": "Metadata", "userGroups": [group]}, {"level": "None"}],
    }


@dataclass(frozen=True)
class Request:
    received: float  # seconds since the epoch
    verb: str
    resource: str  # resource/subresource, or the non-resource URL


@dataclass
class Tally:
    """The requests received in one window, in total and by verb and resource."""

    seconds: float
    total: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def per_minute(self) -> float:
        return self.total * 60 / self.seconds if self.seconds else 0.0

    def top(self, count: int = 8) -> list[tuple[str, float]]:
        """The commonest kinds of request, per minute."""
        scale = 60 / self.seconds if self.seconds else 0.0
        return [(kind, n * scale) for kind, n in self.by_kind.most_common(count)]


def requests(lines: Iterable[str], user: str) -> list[Request]:
    """The requests of ``user`` in audit log lines (JSON events), once each."""
    seen: set[str] = set()
    found = []
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("user", {}).get("username") != user or event["auditID"] in seen:
            continue
        seen.add(event["auditID"])
        ref = event.get("objectRef") or {}
        what = ref.get("resource") or event.get("requestURI", "?").split("?")[0]
        if ref.get("subresource"):
            what += "/" + ref["subresource"]
        received = datetime.fromisoformat(event["requestReceivedTimestamp"]).timestamp()
        found.append(Request(received, event["verb"], what))
    return found


def tally(found: Iterable[Request], start: float, end: float) -> Tally:
    counted = Tally(end - start)
    for request in found:
        if start <= request.received < end:
            counted.total += 1
            counted.by_kind[f"{request.verb} {request.resource}"] += 1
    return counted


def read(log: Path, user: str) -> list[Request]:
    with log.open() as lines:
        return requests(lines, user)
