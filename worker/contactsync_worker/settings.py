"""The worker's configuration: environment variables and mounted files set by the operator
(see contracts.runtime), or by hand in local mode."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from contactsync_api import runtime
from contactsync_api.spec import RegionConfig


class WorkerConfigError(ValueError):
    """The worker cannot start with this configuration; the message names what to fix."""


DEFAULT_PAGE_BUDGET_SECONDS = 60.0
MAX_PAGE_BUDGET_SECONDS = 300.0  # half the page's start-to-close timeout
# Slices of one listing at once: each is an activity in flight and a few history events.
MAX_PAGE_CONCURRENCY = 64


@dataclass(frozen=True)
class WorkerSettings:
    region: str
    task_queue: str
    config: RegionConfig
    keys_dir: Path | None
    secrets_dir: Path
    state_dir: Path
    metrics_port: int
    temporal_address: str
    temporal_namespace: str
    temporal_tls_dir: Path | None = None
    temporal_api_key_file: Path | None = None
    source_attempts: int = 8
    max_source_pages: int = 20_000
    source_retry_seconds: float = 2.0
    # How long one page activity goes on from page to page: a page started before the budget
    # ends is finished, so it stays well inside the page's start-to-close timeout (10 min).
    page_budget_seconds: float = DEFAULT_PAGE_BUDGET_SECONDS
    # How many page activities may work one source's listing at once, across the region's
    # workers: the number of worker replicas (or their task slots) that should share a sync.
    page_concurrency: int = 1
    # Activities this worker runs at once (None: the SDK's default). A page is CPU work in
    # one Python process, so with several replicas a small number here spreads the slices
    # of a sync over them instead of one worker taking them all.
    max_concurrent_activities: int | None = None
    # Where the probes and metrics listen: every interface in a pod, for the kubelet and the
    # scraper; a run on a laptop keeps them on loopback.
    metrics_host: str = "0.0.0.0"  # noqa: S104 - probed from outside the pod

    @property
    def scope(self) -> str:
        """Key of this ContactSync and region in the state store and the audit trail."""
        return f"{self.config.contact_sync}/{self.region}"

    def secret_dir(self, name: str) -> Path:
        return Path(runtime.secret_dir(PurePosixPath(self.secrets_dir), name))


def _page_budget(env: Mapping[str, str]) -> float:
    text = env.get("CONTACTSYNC_PAGE_BUDGET_SECONDS")
    if not text:
        return DEFAULT_PAGE_BUDGET_SECONDS
    try:
        budget = float(text)
    except ValueError:
        budget = -1.0
    if not 0 <= budget <= MAX_PAGE_BUDGET_SECONDS:
        raise WorkerConfigError(
            f"CONTACTSYNC_PAGE_BUDGET_SECONDS={text}: expected seconds from 0 to "
            f"{MAX_PAGE_BUDGET_SECONDS:.0f}"
        )
    return budget


def _page_concurrency(env: Mapping[str, str]) -> int:
    text = env.get("CONTACTSYNC_PAGE_CONCURRENCY")
    if not text:
        return 1
    if not text.isdigit() or not 1 <= int(text) <= MAX_PAGE_CONCURRENCY:
        raise WorkerConfigError(
            f"CONTACTSYNC_PAGE_CONCURRENCY={text}: expected a whole number from 1 to "
            f"{MAX_PAGE_CONCURRENCY}"
        )
    return int(text)


def _positive(env: Mapping[str, str], name: str) -> int | None:
    text = env.get(name)
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise WorkerConfigError(f"{name}={text}: expected a whole number of at least 1")
    return int(text)


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit():
        raise WorkerConfigError(f"{name}={text}: expected a whole number")
    return int(text)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise WorkerConfigError(f"{name}={text}: expected a positive number of seconds")
    return seconds


@dataclass(frozen=True)
class WorkerTuning:
    """How hard and how wide a worker goes at a sync: the settings an environment variable
    may change, whoever runs the worker (the operator's pods, ``contactsync run``)."""

    source_attempts: int
    source_retry_seconds: float
    max_source_pages: int
    page_budget_seconds: float
    page_concurrency: int
    max_concurrent_activities: int | None


def tuning_from_env(
    env: Mapping[str, str], *, source_attempts: int = 8, source_retry_seconds: float = 2.0
) -> WorkerTuning:
    """The tuning variables of ``env``; the defaults for the two that bound the retries of
    an unreachable source are the caller's (a person at a terminal wants fewer)."""
    return WorkerTuning(
        source_attempts=_whole(env, "CONTACTSYNC_SOURCE_ATTEMPTS", source_attempts),
        source_retry_seconds=_seconds(
            env, "CONTACTSYNC_SOURCE_RETRY_SECONDS", source_retry_seconds
        ),
        max_source_pages=_whole(env, "CONTACTSYNC_MAX_SOURCE_PAGES", 20_000),
        page_budget_seconds=_page_budget(env),
        page_concurrency=_page_concurrency(env),
        max_concurrent_activities=_positive(env, "CONTACTSYNC_MAX_CONCURRENT_ACTIVITIES"),
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name)
    if not value:
        raise WorkerConfigError(f"{name} is not set")
    return value


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return Path(value) if value else None


def settings_from_env(env: Mapping[str, str] | None = None) -> WorkerSettings:
    env = os.environ if env is None else env
    config_file = Path(_required(env, runtime.ENV_CONFIG_FILE))
    try:
        config = RegionConfig.model_validate_json(config_file.read_text())
    except OSError as exc:
        raise WorkerConfigError(f"{runtime.ENV_CONFIG_FILE}={config_file}: {exc.strerror}") from exc
    except ValueError as exc:
        raise WorkerConfigError(f"{config_file} is not a valid region config: {exc}") from exc
    region = _required(env, runtime.ENV_REGION)
    if config.region.name != region:
        raise WorkerConfigError(
            f"{config_file} describes region {config.region.name}, not {region}"
        )
    tls_dir = _optional_path(env, runtime.ENV_TEMPORAL_TLS_DIR)
    api_key_file = _optional_path(env, runtime.ENV_TEMPORAL_API_KEY_FILE)
    plaintext = (env.get(runtime.ENV_TEMPORAL_PLAINTEXT) or "").lower() == "true"
    if tls_dir is None and api_key_file is None and not plaintext:
        raise WorkerConfigError(
            f"no TLS and no API key for Temporal: set {runtime.ENV_TEMPORAL_TLS_DIR} or "
            f"{runtime.ENV_TEMPORAL_API_KEY_FILE}, or {runtime.ENV_TEMPORAL_PLAINTEXT}=true to "
            "connect in plain text (development only)"
        )
    tuning = tuning_from_env(env)
    return WorkerSettings(
        region=region,
        task_queue=_required(env, runtime.ENV_TASK_QUEUE),
        config=config,
        keys_dir=_optional_path(env, runtime.ENV_KEYS_DIR),
        secrets_dir=Path(env.get(runtime.ENV_SECRETS_DIR) or runtime.SECRETS_DIR),
        state_dir=Path(env.get(runtime.ENV_STATE_DIR) or runtime.STATE_DIR),
        metrics_port=int(env.get(runtime.ENV_METRICS_PORT) or runtime.METRICS_PORT),
        temporal_address=env.get(runtime.ENV_TEMPORAL_ADDRESS, "localhost:7233"),
        temporal_namespace=env.get(runtime.ENV_TEMPORAL_NAMESPACE, "default"),
        temporal_tls_dir=tls_dir,
        temporal_api_key_file=api_key_file,
        source_attempts=tuning.source_attempts,
        max_source_pages=tuning.max_source_pages,
        source_retry_seconds=tuning.source_retry_seconds,
        page_budget_seconds=tuning.page_budget_seconds,
        page_concurrency=tuning.page_concurrency,
        max_concurrent_activities=tuning.max_concurrent_activities,
    )
