"""The Argo CD health check on status shapes the live tests do not reach (a paused schedule, a
stale generation); tests/e2e runs it on live objects."""

from __future__ import annotations

from typing import Any

import pytest

from tests.argocd_health import health_of


def contact_sync(
    generation: int, observed: int | None, paused: bool = False, **conditions: str
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "conditions": [
            {"type": kind, "status": value, "reason": f"{kind}Reason", "message": f"{kind} says"}
            for kind, value in conditions.items()
        ]
    }
    if observed is not None:
        status["observedGeneration"] = observed
    return {
        "apiVersion": "contactsync.dev/v1alpha1",
        "kind": "ContactSync",
        "metadata": {"name": "book", "generation": generation},
        "spec": {"schedule": {"interval": "15m", "paused": paused}},
        "status": status,
    }


@pytest.mark.parametrize(
    ("live", "status", "message"),
    [
        (contact_sync(1, None), "Progressing", "waiting for the operator to reconcile it"),
        (contact_sync(3, 2, Ready="True", Stalled="False"), "Progressing", "waiting for"),
        (contact_sync(2, 2, Ready="True", Stalled="False"), "Healthy", "Ready says"),
        (contact_sync(2, 2, True, Ready="True", Stalled="False"), "Suspended", "paused"),
        (contact_sync(2, 2, Ready="False", Stalled="True"), "Degraded", "Stalled says"),
        (
            contact_sync(2, 2, Ready="False", Reconciling="True", Stalled="False"),
            "Progressing",
            "Reconciling says",
        ),
    ],
    ids=[
        "never reconciled",
        "an edit not yet reconciled",
        "ready",
        "ready, schedule paused",
        "stalled",
        "reconciling",
    ],
)
def test_health(live: dict[str, Any], status: str, message: str) -> None:
    verdict = health_of(live)
    assert verdict["status"] == status
    assert message in verdict["message"]
