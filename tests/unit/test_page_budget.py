"""How long one page activity goes on from page to page: a worker setting within bounds, and
a position that survives an attempt as heartbeat details."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync_api import runtime
from contactsync_api.workflows import SyncSummary
from contactsync_worker.engine.page_runs import PageRun
from contactsync_worker.settings import (
    DEFAULT_PAGE_BUDGET_SECONDS,
    WorkerConfigError,
    settings_from_env,
)
from tests.unit.test_temporal_security_settings import worker_env

BUDGET = "CONTACTSYNC_PAGE_BUDGET_SECONDS"


def settings(tmp_path: Path, **extra: str) -> float:
    env = worker_env(tmp_path, **{runtime.ENV_TEMPORAL_PLAINTEXT: "true"}, **extra)
    return settings_from_env(env).page_budget_seconds


def test_the_budget_defaults_and_can_be_set(tmp_path: Path) -> None:
    assert settings(tmp_path) == DEFAULT_PAGE_BUDGET_SECONDS
    assert settings(tmp_path, **{BUDGET: "0"}) == 0.0
    assert settings(tmp_path, **{BUDGET: "12.5"}) == 12.5


@pytest.mark.parametrize("value", ["-1", "301", "soon", "nan"])
def test_a_budget_outside_the_page_timeout_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(WorkerConfigError, match=f"{BUDGET}={value}: expected seconds from 0"):
        settings(tmp_path, **{BUDGET: value})


def test_a_position_goes_through_heartbeat_details_unchanged() -> None:
    position = PageRun(SyncSummary(created=3, unchanged=497, pages=2), '{"page": 2}', False, True)
    assert PageRun.from_details(position.as_details()) == position


@pytest.mark.parametrize("details", [None, "x", {"cursor": None}, {"summary": {"nope": 1}}])
def test_details_of_another_shape_resume_nothing(details: object) -> None:
    assert PageRun.from_details(details) is None
