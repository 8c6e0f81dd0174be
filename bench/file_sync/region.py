"""The region under test: one CSV or JSON Lines source synced into a PostgreSQL table, its
state in the same PostgreSQL (or in SQLite), laid out as the operator mounts it
(tests.worker_env) and run one sync per process (bench.carddav_sync.oneshot)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from tests.servers.process import free_port
from tests.worker_env import WorkerFiles

from bench.carddav_sync.oneshot import WORKFLOW_ID
from bench.file_sync.people import FIELDS
from contactsync_api.spec import RegionConfig
from contactsync_worker.keyring import REQUESTS_KEY
from contactsync_worker.store.postgres import DEFAULT_SCHEMA

TABLE = "contacts"
STORES = ("postgres", "sqlite")


def region_config(kind: str, path: Path, max_bytes: int, store: str) -> RegionConfig:
    pg = {"dsnSecretRef": {"name": "pg", "key": "dsn"}}
    region: dict[str, object] = {"name": "local"}
    if store == "postgres":
        region["store"] = {"postgres": pg}
    return RegionConfig.model_validate(
        {
            "contactSync": "bench/file",
            "region": region,
            "sources": [
                {
                    "name": "file",
                    "region": "local",
                    kind: {"path": str(path), "maxBytes": max_bytes},
                }
            ],
            "destinations": [{"name": "db", "region": "local", "postgres": {**pg, "table": TABLE}}],
            "fields": list(FIELDS),
            "identity": ["email"],
            "consent": {"mode": "NotRequired"},
            "deletes": {"propagate": True, "maxDeletePercent": 50},
            "retention": {"removedContacts": "0d", "auditLog": "400d", "workflowHistory": "7d"},
            "deletionPolicy": "Retain",
        }
    )


def max_bytes_for(path: Path) -> int:
    """What a user would set for this file: its size, rounded up to whole MiB."""
    mib = 2**20
    return max(mib, -(-path.stat().st_size // mib) * mib)


@dataclass
class FileSyncRun:
    """One region's mounts under ``root``. ``reset`` starts over from nothing: no state (its
    store schema or SQLite file dropped), no table, so the next sync is a full one."""

    root: Path
    temporal_address: str
    dsn: str
    store: str
    generation: int = 0
    runs: int = 0
    files: WorkerFiles = field(init=False)

    def reset(self, kind: str, path: Path) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(TABLE)))
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(DEFAULT_SCHEMA))
            )
        self.generation += 1
        self.files = WorkerFiles(
            self.root,
            region_config(kind, path, max_bytes_for(path), self.store),
            task_queue=f"bench-file-{os.getpid()}-{self.generation}",
            temporal_address=self.temporal_address,
        )
        self.files.add_key("k0001")
        self.files.add_key(REQUESTS_KEY)
        self.files.write_secret("pg", {"dsn": self.dsn})

    def next_workflow_id(self) -> str:
        self.runs += 1
        return f"{self.files.task_queue}/sync-{self.runs}"

    @staticmethod
    def argv() -> list[str]:
        return [sys.executable, "-m", "bench.carddav_sync.oneshot"]

    def env(self, workflow_id: str) -> dict[str, str]:
        return {**os.environ, **self.files.env(free_port()), WORKFLOW_ID: workflow_id}

    def rows(self) -> int:
        """Rows of the destination table."""
        with psycopg.connect(self.dsn) as conn:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(TABLE))
            row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0
