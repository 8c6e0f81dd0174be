"""A status the same as the one last written is not written again: a tick at rest costs no
request. It is written after a restart, when it changed, and when the stored one no longer
holds it (someone changed it, or the last patch failed)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, cast

import kopf
import pytest

from contactsync_api.manifest import ContactSync, parse_contact_sync
from contactsync_api.status import serialized
from contactsync_operator import metrics
from contactsync_operator.conditions import Outcome, build_status
from contactsync_operator.planner import plan
from contactsync_operator.reconcile import Result
from contactsync_operator.settings import OperatorSettings
from contactsync_operator.status_writes import holds, needs_writing
from tests.corpus.manifests import example
from tests.operator_state import in_sync

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
SETTINGS = OperatorSettings()
WRITTEN = {
    "observedGeneration": 3,
    "regions": [{"name": "eu", "lastSync": {"result": "Running"}}],
}


def test_the_stored_status_holds_what_was_written_with_the_crd_defaults_beside() -> None:
    defaulted = {
        "observedGeneration": 3,
        "regions": [{"name": "eu", "lastSync": {"result": "Running", "created": 0}}],
        "schedule": "every 15m",
    }
    assert holds(defaulted, WRITTEN)
    assert not holds({**defaulted, "observedGeneration": 2}, WRITTEN)
    assert not holds({**defaulted, "regions": []}, WRITTEN)
    assert not holds({"observedGeneration": 3}, WRITTEN)


def test_written_again_unless_the_same_was_written_last_and_is_still_stored() -> None:
    assert needs_writing(WRITTEN, WRITTEN, None), "nothing written yet by this process"
    assert not needs_writing(WRITTEN, WRITTEN, dict(WRITTEN))
    assert needs_writing(WRITTEN, {"observedGeneration": 3}, WRITTEN), "changed by someone"
    changed = {**WRITTEN, "observedGeneration": 4}
    assert needs_writing(changed, WRITTEN, WRITTEN)


@dataclass
class Replay:
    result: Result

    async def reconcile(
        self, resource: ContactSync, conditions: list[Any], listing_age: float = 0.0
    ) -> Result:
        return self.result


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("TEMPORAL_PLAINTEXT", "true")  # settings are read at import
    return importlib.import_module("contactsync_operator.handlers")


async def test_a_tick_at_rest_sends_no_status_patch(handlers: ModuleType) -> None:
    document = example("multi-region")
    document["metadata"].update(uid="uid-1", generation=3)
    resource = parse_contact_sync(document)
    observed = in_sync(resource, SETTINGS, ready=1)
    the_plan = plan(resource, observed, SETTINGS)
    outcome = Outcome(schedules_present=set(observed.schedules))
    status = build_status(resource, the_plan, observed, outcome, [], NOW)
    memo = kopf.Memo(reconciler=Replay(Result(status, the_plan, outcome, [], {})))

    async def tick(stored: dict[str, Any]) -> kopf.Patch:
        body = kopf.Body(cast(kopf.RawBody, {**document, "status": stored}))
        patch = kopf.Patch()
        await handlers.reconcile(body=body, status=body.status, patch=patch, memo=memo)
        return patch

    try:
        first = await tick({})
        assert first.status == serialized(status)
        assert not await tick(dict(first["status"])), "the same status, already stored"
        assert await tick({}), "the stored status lost it: written again"
    finally:
        metrics.CONTACTSYNCS.forget(resource.namespace, resource.name)
