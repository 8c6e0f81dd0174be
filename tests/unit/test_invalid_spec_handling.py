"""A manifest the API server admitted and the model refuses: the operator applies nothing of it,
says why in status and a Warning Event, and still cleans up when it is deleted."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, cast

import kopf
import pytest

from contactsync_api.manifest import ContactSync
from contactsync_operator import metrics
from contactsync_operator.cleanup import CleanupResult
from tests.corpus.manifests import MODEL_ONLY, InvalidCase

Events = list[tuple[str, str]]


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("TEMPORAL_PLAINTEXT", "true")  # settings are read at import
    return importlib.import_module("contactsync_operator.handlers")


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> Events:
    posted: Events = []
    for kind in ("warn", "info"):
        monkeypatch.setattr(
            kopf, kind, lambda body, *, reason, message, kind=kind: posted.append((reason, message))
        )
    return posted


@dataclass
class NothingMayRun:
    """A reconciler that fails the test if the operator tries to apply anything."""

    settings: Any = None
    called: list[str] = field(default_factory=list)

    async def reconcile(
        self, resource: ContactSync, conditions: list[Any], listing_age: float = 0.0
    ) -> Any:
        raise AssertionError("a refused spec was reconciled")


def body_of(case: InvalidCase, status: dict[str, Any] | None = None) -> kopf.Body:
    document = case.manifest("refused")
    document["metadata"].update(namespace="contacts", uid="uid-9", generation=4)
    document["status"] = status or {}
    return kopf.Body(cast(kopf.RawBody, document))


@pytest.mark.parametrize("case", MODEL_ONLY, ids=[c.id for c in MODEL_ONLY])
async def test_a_refused_spec_is_degraded_with_its_reason_and_nothing_runs(
    handlers: ModuleType, events: Events, case: InvalidCase
) -> None:
    body, patch = body_of(case), kopf.Patch()
    memo = kopf.Memo(reconciler=NothingMayRun())
    try:
        with pytest.raises(kopf.PermanentError, match=re.escape(case.refused_at)):
            await handlers.reconcile(body=body, status=body.status, patch=patch, memo=memo)
    finally:
        metrics.CONTACTSYNCS.forget("contacts", "refused")
    [(reason, message)] = events
    assert reason == "InvalidSpec"
    assert message.startswith(f"{case.refused_at}: ")
    assert patch.status["observedGeneration"] == 4
    degraded = next(c for c in patch.status["conditions"] if c["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"], degraded["message"]) == (
        "True",
        "InvalidSpec",
        message,
    )


async def test_deleting_a_refused_spec_still_deletes_its_schedules(
    handlers: ModuleType, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    cleaned: list[ContactSync] = []

    async def cleanup(reconciler: Any, resource: ContactSync, skip_purge: bool) -> CleanupResult:
        cleaned.append(resource)
        return CleanupResult(done=True, deleted_schedules=["contactsync/contacts/refused/x/sync"])

    monkeypatch.setattr(handlers, "cleanup", cleanup)
    body = body_of(MODEL_ONLY[0])
    await handlers.finalize(
        body=body,
        meta=body.meta,
        status=body.status,
        retry=0,
        patch=kopf.Patch(),
        memo=kopf.Memo(reconciler=NothingMayRun()),
    )
    [resource] = cleaned
    assert (resource.namespace, resource.name) == ("contacts", "refused")
    assert events == [("CleanedUp", "deleted schedules contactsync/contacts/refused/x/sync")]
