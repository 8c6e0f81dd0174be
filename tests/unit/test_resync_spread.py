"""ContactSyncs seen together do not resync together: each one's first tick comes between half
a period and one and a half after it is seen, the same for the same object, evenly spread."""

from __future__ import annotations

import importlib
import uuid
from typing import cast

import kopf
import pytest

from contactsync_operator.spread import first_tick


def test_first_ticks_fall_evenly_over_a_period_around_one_period() -> None:
    ticks = [first_tick(str(uuid.UUID(int=i)), 60.0) for i in range(3000)]
    assert all(30.0 <= t < 90.0 for t in ticks)
    per_tenth = [sum(30 + 6 * k <= t < 36 + 6 * k for t in ticks) for k in range(10)]
    assert all(240 < n < 360 for n in per_tenth), per_tenth
    assert abs(sum(ticks) / len(ticks) - 60.0) < 1.0


def test_the_same_object_gets_the_same_first_tick() -> None:
    assert first_tick("uid-1", 60.0) == first_tick("uid-1", 60.0)
    assert first_tick("uid-1", 60.0) != first_tick("uid-2", 60.0)


def test_the_timer_takes_its_first_delay_from_the_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_PLAINTEXT", "true")  # settings are read at import
    handlers = importlib.import_module("contactsync_operator.handlers")
    body = kopf.Body(cast(kopf.RawBody, {"metadata": {"uid": "uid-1"}}))
    expected = first_tick("uid-1", handlers.SETTINGS.resync_seconds)
    assert handlers._first_resync(meta=body.meta, body=body) == expected
