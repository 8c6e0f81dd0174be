"""ContactSync's side: a region syncing the CardDAV book into a destination (a PostgreSQL
table or another address book), laid out as the operator mounts it (tests.worker_env)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio.client import Client
from tests.worker_env import WorkerFiles

from contactsync_api.fields import ContactField as F
from contactsync_api.spec import RegionConfig
from contactsync_worker.keyring import REQUESTS_KEY

# Every property the generated cards carry, so nothing is dropped before the write.
FIELDS = [
    F.FULL_NAME,
    F.GIVEN_NAME,
    F.FAMILY_NAME,
    F.EMAILS,
    F.PHONES,
    F.ORGANIZATION,
    F.TITLE,
    F.ADDRESSES,
    F.NOTE,
]
DAV_SECRET, PG_SECRET = "dav", "pg"


def postgres_destination(table: str) -> dict[str, Any]:
    return {"postgres": {"dsnSecretRef": {"name": PG_SECRET, "key": "dsn"}, "table": table}}


def carddav_destination(url: str) -> dict[str, Any]:
    return {
        "carddav": {"url": url, "allowInsecure": True, "credentialsSecretRef": {"name": DAV_SECRET}}
    }


def region_config(book_url: str, destination: dict[str, Any]) -> RegionConfig:
    return RegionConfig.model_validate(
        {
            "contactSync": "bench/book",
            "region": {"name": "local"},
            "sources": [
                {
                    "name": "book",
                    "region": "local",
                    "carddav": {
                        "url": book_url,
                        "allowInsecure": True,
                        "credentialsSecretRef": {"name": DAV_SECRET},
                    },
                }
            ],
            "destinations": [{"name": "out", "region": "local", **destination}],
            "fields": [str(f) for f in FIELDS],
            "identity": ["uid"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


@dataclass
class Region:
    """One region's mounts under ``root``, for one tool; ``reset`` starts it over with an
    empty state and a new destination (``new_destination`` is given a name no other reset
    used), so the next sync is a full one."""

    root: Path
    tool: str
    book_url: str
    temporal_address: str
    dav_credentials: dict[str, str]
    dsn: str
    new_destination: Callable[[str], dict[str, Any]]
    overrides: dict[str, str] = field(default_factory=dict)  # bench_worker's, for every sync
    generation: int = 0
    runs: int = 0
    files: WorkerFiles = field(init=False)

    def reset(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self.generation += 1
        name = f"{self.tool.replace('-', '_')}_{self.generation}"
        self.files = WorkerFiles(
            self.root,
            region_config(self.book_url, self.new_destination(name)),
            task_queue=f"bench-{os.getpid()}-{self.tool}-{self.generation}",
            temporal_address=self.temporal_address,
        )
        self.files.add_key("k0001")
        self.files.add_key(REQUESTS_KEY)
        self.files.write_secret(DAV_SECRET, self.dav_credentials)
        self.files.write_secret(PG_SECRET, {"dsn": self.dsn})

    def next_workflow_id(self) -> str:
        self.runs += 1
        return f"{self.files.task_queue}/sync-{self.runs}"

    def env(self, metrics_port: int, **extra: str) -> dict[str, str]:
        """The worker's environment, on top of this one (PYTHONPATH picks the checkout)."""
        return {**os.environ, **self.files.env(metrics_port), **self.overrides, **extra}


def history_events(address: str, workflow_id: str) -> int:
    """Events in the sync's history, over every run it continued as new into (no payload is
    decoded, so no key is needed)."""

    async def count() -> int:
        client = await Client.connect(address)
        run_id: str | None = None
        events = 0
        while True:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
            events += len(history.events)
            started = history.events[0].workflow_execution_started_event_attributes
            run_id = started.continued_execution_run_id
            if not run_id:
                return events

    return asyncio.run(count())
