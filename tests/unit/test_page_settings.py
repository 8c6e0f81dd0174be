"""How pages are worked: how long one activity goes on from page to page and how many work a
listing at once (worker settings within bounds), a position that survives an attempt as
heartbeat details, and the rest of a listing split into slices."""

from __future__ import annotations

from pathlib import Path

import pytest

from contactsync_api import runtime
from contactsync_api.workflows import PageSlice, SyncSummary
from contactsync_worker.engine.page_runs import PageRun, split
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


@pytest.mark.parametrize(
    ("pages", "parts", "expected"),
    [
        (7, 3, [(0, 3), (3, 2), (5, 2)]),
        (2, 4, [(0, 1), (1, 1)]),
        (4, 1, [(0, 4)]),
        (0, 4, []),
    ],
)
def test_the_rest_of_a_listing_splits_into_even_runs_of_neighbours(
    pages: int, parts: int, expected: list[tuple[int, int]]
) -> None:
    cursors = [f"page-{n}" for n in range(pages)]
    assert split(cursors, parts) == tuple(PageSlice(f"page-{s}", n) for s, n in expected)


def test_concurrency_settings_are_whole_numbers_in_bounds(tmp_path: Path) -> None:
    env = worker_env(tmp_path, **{runtime.ENV_TEMPORAL_PLAINTEXT: "true"})
    defaults = settings_from_env(env)
    assert (defaults.page_concurrency, defaults.max_concurrent_activities) == (1, None)
    chosen = settings_from_env(
        {**env, "CONTACTSYNC_PAGE_CONCURRENCY": "4", "CONTACTSYNC_MAX_CONCURRENT_ACTIVITIES": "2"}
    )
    assert (chosen.page_concurrency, chosen.max_concurrent_activities) == (4, 2)
    for name, value in [
        ("CONTACTSYNC_PAGE_CONCURRENCY", "0"),
        ("CONTACTSYNC_PAGE_CONCURRENCY", "65"),
        ("CONTACTSYNC_MAX_CONCURRENT_ACTIVITIES", "0"),
        ("CONTACTSYNC_MAX_CONCURRENT_ACTIVITIES", "two"),
    ]:
        with pytest.raises(WorkerConfigError, match=f"{name}={value}"):
            settings_from_env({**env, name: value})
