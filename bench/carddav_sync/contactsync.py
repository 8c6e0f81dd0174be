"""ContactSync's side: a region syncing the CardDAV book into a PostgreSQL table, laid out
as the operator mounts it (tests.worker_env), run one sync per process (``oneshot``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from tests.servers.process import free_port
from tests.worker_env import WorkerFiles

from bench.carddav_sync.oneshot import WORKFLOW_ID
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


def region_config(book_url: str, table: str) -> RegionConfig:
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
                        "credentialsSecretRef": {"name": "dav"},
                    },
                }
            ],
            "destinations": [
                {
                    "name": "db",
                    "region": "local",
                    "postgres": {"dsnSecretRef": {"name": "pg", "key": "dsn"}, "table": table},
                }
            ],
            "fields": [str(f) for f in FIELDS],
            "identity": ["uid"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


@dataclass
class ContactSyncRun:
    """One region's mounts under ``root``; ``reset`` starts it over with an empty state and a
    new table, so the next sync is a full one."""

    root: Path
    temporal_address: str
    dav_credentials: dict[str, str]
    dsn: str
    generation: int = 0
    runs: int = 0
    files: WorkerFiles = field(init=False)

    def reset(self, book_url: str) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        self.generation += 1
        self.files = WorkerFiles(
            self.root,
            region_config(book_url, f"contacts_{self.generation}"),
            task_queue=f"bench-{os.getpid()}-{self.generation}",
            temporal_address=self.temporal_address,
        )
        self.files.add_key("k0001")
        self.files.add_key(REQUESTS_KEY)
        self.files.write_secret("dav", self.dav_credentials)
        self.files.write_secret("pg", {"dsn": self.dsn})

    def next_workflow_id(self) -> str:
        self.runs += 1
        return f"{self.files.task_queue}/sync-{self.runs}"

    @staticmethod
    def argv() -> list[str]:
        return [sys.executable, "-m", "bench.carddav_sync.oneshot"]

    def env(self, workflow_id: str) -> dict[str, str]:
        return {**os.environ, **self.files.env(free_port()), WORKFLOW_ID: workflow_id}


def history_events(address: str, workflow_id: str) -> int:
    """Events in the sync workflow's history (no payload is decoded, so no key is needed)."""

    async def count() -> int:
        client = await Client.connect(address)
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        return len(history.events)

    return asyncio.run(count())
