"""Commands people run against a region: verify the audit trail, erase a data subject.

``contactsync audit verify`` reads the region's store the way its worker does (the same
environment, e.g. ``kubectl exec`` into a worker pod), or a local SQLite file.
``contactsync erase`` starts an ErasureWorkflow on the region's task queue; the address
it carries is encrypted by the region's payload codec before it leaves this process.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from contactsync_worker.audit import VerifyResult, verify_chain
from contactsync_worker.codec import data_converter
from contactsync_worker.contracts import (
    ERASURE_WORKFLOW,
    ErasureRequest,
    ErasureResult,
    RegionRunRequest,
    runtime,
)
from contactsync_worker.keyring import Keyring
from contactsync_worker.store import StateStore
from contactsync_worker.store.sqlite import SqliteStore


def describe(scope: str, result: VerifyResult) -> str:
    if result.ok:
        span = f"records {result.first_seq}..{result.last_seq}" if result.count else "no records"
        return f"audit chain of {scope}: intact, {result.count} records verified ({span})"
    return (
        f"audit chain of {scope}: BROKEN at record {result.broken_seq} "
        f"({result.reason}): {result.message}"
    )


async def verify(store: StateStore, scope: str) -> tuple[bool, str]:
    result = await verify_chain(store, scope)
    return result.ok, describe(scope, result)


async def verify_sqlite(path: Path, scope: str) -> tuple[bool, str]:
    store = await SqliteStore.open(path)
    try:
        return await verify(store, scope)
    finally:
        await store.aclose()


async def verify_from_env() -> tuple[bool, str]:
    """Inside a worker pod: the same settings and store as the worker."""
    from contactsync_worker.main import open_store
    from contactsync_worker.settings import settings_from_env

    settings = settings_from_env()
    store = await open_store(settings)
    try:
        return await verify(store, settings.scope)
    finally:
        await store.aclose()


@dataclass(frozen=True)
class ErasureTarget:
    temporal_address: str
    temporal_namespace: str
    keys_dir: Path
    region: RegionRunRequest

    @property
    def task_queue(self) -> str:
        region = self.region
        return runtime.task_queue(region.namespace, region.contact_sync, region.region)


async def erase(target: ErasureTarget, email: str | None, uid: str | None) -> ErasureResult:
    if not email and not uid:
        raise ValueError("name the data subject by --email or --uid")
    client = await Client.connect(
        target.temporal_address,
        namespace=target.temporal_namespace,
        data_converter=data_converter(Keyring.from_directory(target.keys_dir)),
    )
    # The workflow id names no one: a random suffix, never the address.
    workflow_id = f"{target.task_queue}/erasure/{uuid.uuid4().hex}"
    result: ErasureResult = await client.execute_workflow(
        ERASURE_WORKFLOW,
        ErasureRequest(target.region, email=email, uid=uid),
        id=workflow_id,
        task_queue=target.task_queue,
        result_type=ErasureResult,
    )
    return result
