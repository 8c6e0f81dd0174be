"""The tuning variables, read the same way by the worker and by ``contactsync run``."""

from __future__ import annotations

import pytest

from contactsync_worker.settings import WorkerConfigError, tuning_from_env


def test_the_callers_defaults_apply_until_the_environment_says_otherwise() -> None:
    local = tuning_from_env({}, source_attempts=2, source_retry_seconds=1.0)
    assert (local.source_attempts, local.source_retry_seconds) == (2, 1.0)
    worker = tuning_from_env({})
    assert (worker.source_attempts, worker.source_retry_seconds) == (8, 2.0)
    env = {"CONTACTSYNC_SOURCE_ATTEMPTS": "5", "CONTACTSYNC_SOURCE_RETRY_SECONDS": "0.5"}
    given = tuning_from_env(env, source_attempts=2, source_retry_seconds=1.0)
    assert (given.source_attempts, given.source_retry_seconds) == (5, 0.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONTACTSYNC_SOURCE_ATTEMPTS", "many"),
        ("CONTACTSYNC_SOURCE_ATTEMPTS", "-1"),
        ("CONTACTSYNC_SOURCE_RETRY_SECONDS", "0"),
        ("CONTACTSYNC_SOURCE_RETRY_SECONDS", "soon"),
        ("CONTACTSYNC_MAX_SOURCE_PAGES", "1e3"),
    ],
)
def test_a_value_that_is_not_a_number_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(WorkerConfigError, match=f"{name}={value}"):
        tuning_from_env({name: value})
