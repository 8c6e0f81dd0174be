"""The region under test and the two set-ups compared: one CardDAV source (the book behind
the latency proxy) synced into a PostgreSQL table, its state in the same PostgreSQL, laid out
as the operator mounts it (tests.worker_env). Every run gets a scope and a table of its own,
so each is a full sync from nothing."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tests.worker_env import WorkerFiles

from bench.carddav_sync.contactsync import FIELDS
from contactsync_api.spec import RegionConfig
from contactsync_worker.keyring import REQUESTS_KEY

REGION = "local"
NAMESPACE = "bench"
# The guard as a cautious deployment sets it; the guard check at the end trips it.
MAX_DELETE_PERCENT = 20


@dataclass(frozen=True)
class Setup:
    """How many worker processes share a sync, and the settings each one gets."""

    name: str
    workers: int
    page_concurrency: int
    max_concurrent_activities: int | None  # None: the SDK's default

    def env(self) -> dict[str, str]:
        env = {"CONTACTSYNC_PAGE_CONCURRENCY": str(self.page_concurrency)}
        if self.max_concurrent_activities is not None:
            env["CONTACTSYNC_MAX_CONCURRENT_ACTIVITIES"] = str(self.max_concurrent_activities)
        return env

    def describe(self) -> str:
        slots = self.max_concurrent_activities or "default"
        return (
            f"{self.workers} worker(s), PAGE_CONCURRENCY={self.page_concurrency}, "
            f"MAX_CONCURRENT_ACTIVITIES={slots}"
        )


ONE = Setup("one-worker", workers=1, page_concurrency=1, max_concurrent_activities=None)
TWO = Setup("two-workers", workers=2, page_concurrency=4, max_concurrent_activities=2)
# Not compared by default: the slices and slots of TWO in one process, which tells what
# the second process adds over a second activity slot.
ONE_SLICED = Setup("one-worker-sliced", workers=1, page_concurrency=4, max_concurrent_activities=2)
SETUPS = {setup.name: setup for setup in (ONE, TWO, ONE_SLICED)}
DEFAULT_SETUPS = (ONE, TWO)


def region_config(name: str, book_url: str, table: str) -> RegionConfig:
    pg = {"dsnSecretRef": {"name": "pg", "key": "dsn"}}
    return RegionConfig.model_validate(
        {
            "contactSync": f"{NAMESPACE}/{name}",  # a scope of its own in the shared store
            "region": {"name": REGION, "store": {"postgres": pg}},
            "sources": [
                {
                    "name": "book",
                    "region": REGION,
                    "carddav": {
                        "url": book_url,
                        "allowInsecure": True,
                        "credentialsSecretRef": {"name": "dav"},
                    },
                }
            ],
            "destinations": [{"name": "db", "region": REGION, "postgres": {**pg, "table": table}}],
            "fields": [str(f) for f in FIELDS],
            # By email, so a card that names another card's email joins that contact (the
            # guard check relies on it); the book's emails are all different.
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": MAX_DELETE_PERCENT},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


@dataclass(frozen=True)
class RunRegion:
    """One run's region: its mounts, scope (``name``) and destination table."""

    name: str
    table: str
    files: WorkerFiles


def run_region(
    root: Path,
    setup: Setup,
    run: int,
    *,
    book_url: str,
    temporal_address: str,
    dsn: str,
    dav_credentials: dict[str, str],
) -> RunRegion:
    name = f"scale-{run}-{setup.name}"
    table = f"contacts_{run}_{setup.name.replace('-', '_')}"
    files = WorkerFiles(
        root / name,
        region_config(name, book_url, table),
        task_queue=f"bench-scale-{os.getpid()}-{name}",
        temporal_address=temporal_address,
        extra_env=setup.env(),
    )
    files.add_key("k0001")
    files.add_key(REQUESTS_KEY)
    files.write_secret("dav", dav_credentials)
    files.write_secret("pg", {"dsn": dsn})
    return RunRegion(name, table, files)
