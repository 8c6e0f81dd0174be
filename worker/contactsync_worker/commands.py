"""Commands people run against a region: verify the audit trail, erase a data subject, lift
the suppression an erasure left.

``contactsync audit verify`` reads the region's store the way its worker does (the same
environment, e.g. ``kubectl exec`` into a worker pod), or a local SQLite file.
``contactsync erase`` starts an ErasureWorkflow on the region's task queue, and
``contactsync suppression lift`` a SuppressionLiftWorkflow; the values naming the subject
are encrypted by the region's payload codec before they leave this process.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from temporalio.client import Client

from contactsync_api import runtime
from contactsync_api.workflows import (
    ERASURE_WORKFLOW,
    SUPPRESSION_LIFT_WORKFLOW,
    ErasureRequest,
    ErasureResult,
    RegionRunRequest,
    SubjectIds,
    SuppressionLiftRequest,
    SuppressionLiftResult,
)
from contactsync_worker import authorization, checkpoints
from contactsync_worker.audit import VerifyResult, verify_chain
from contactsync_worker.checkpoints import Checkpoint, CheckpointError, checkpoint_key
from contactsync_worker.codec import data_converter
from contactsync_worker.contacts import identifiers
from contactsync_worker.keyring import REQUESTS_KEY, Keyring
from contactsync_worker.pseudonym_keys import load_pseudonym_keys
from contactsync_worker.store import StateStore
from contactsync_worker.store.sqlite import SqliteStore

R = TypeVar("R")


def describe(scope: str, result: VerifyResult) -> str:
    if result.ok:
        span = f"records {result.first_seq}..{result.last_seq}" if result.count else "no records"
        return f"audit chain of {scope}: intact, {result.count} records verified ({span})"
    return (
        f"audit chain of {scope}: BROKEN at record {result.broken_seq} "
        f"({result.reason}): {result.message}"
    )


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint token from the status or the log, and the key to check it with."""

    token: str
    key: bytes


def region_checkpoint_key(keys_dir: Path, region: str) -> bytes:
    """The key a region's workers sign checkpoints with, from its keys directory."""
    keyring = Keyring.from_directory(keys_dir)
    return checkpoint_key(load_pseudonym_keys(keys_dir, keyring, region).secret, region)


async def verify(
    store: StateStore, scope: str, checkpoint: SignedCheckpoint | None = None
) -> tuple[bool, str]:
    """The chain from its anchor to its head; with a checkpoint, also that the chain still
    holds the record the checkpoint signed (a rewritten or wiped chain verifies on its own)."""
    result = await verify_chain(store, scope)
    words = describe(scope, result)
    if not result.ok or checkpoint is None:
        return result.ok, words
    try:
        signed = checkpoints.parse(checkpoint.key, scope, checkpoint.token)
    except CheckpointError as exc:
        return False, f"audit checkpoint of {scope}: {exc}"
    problem = await _against_checkpoint(store, scope, result, signed)
    if problem:
        return False, f"audit chain of {scope}: BROKEN against the signed checkpoint: {problem}"
    return True, f"{words}; it holds the signed checkpoint at record {signed.seq}"


async def _against_checkpoint(
    store: StateStore, scope: str, chain: VerifyResult, signed: Checkpoint
) -> str | None:
    if signed.seq == 0:
        return None
    anchor = await store.audit_anchor(scope)
    if anchor is not None and signed.seq <= anchor.seq:
        if signed.seq == anchor.seq and signed.hash == anchor.hash:
            return None
        return (
            f"the checkpoint (record {signed.seq}) is older than what retention purged "
            f"(up to record {anchor.seq}); check a newer one"
        )
    if signed.seq > chain.last_seq:
        return (
            f"the chain ends at record {chain.last_seq}, but record {signed.seq} existed when "
            "the checkpoint was signed: records were deleted"
        )
    [record] = await store.audit_records(scope, after_seq=signed.seq - 1, limit=1)
    if record.seq != signed.seq or record.hash != signed.hash:
        return f"record {signed.seq} is not the one signed: the chain was rewritten"
    return None


async def verify_sqlite(
    path: Path, scope: str, checkpoint: SignedCheckpoint | None = None
) -> tuple[bool, str]:
    store = await SqliteStore.open(path)
    try:
        return await verify(store, scope, checkpoint)
    finally:
        await store.aclose()


async def verify_from_env(token: str | None = None) -> tuple[bool, str]:
    """Inside a worker pod: the same settings, store and keys as the worker."""
    from contactsync_worker.main import open_store
    from contactsync_worker.settings import settings_from_env

    settings = settings_from_env()
    checkpoint = None
    if token:
        if settings.keys_dir is None:
            return False, f"no keys to check the checkpoint with: set {runtime.ENV_KEYS_DIR}"
        key = region_checkpoint_key(settings.keys_dir, settings.region)
        checkpoint = SignedCheckpoint(token, key)
    store = await open_store(settings)
    try:
        return await verify(store, settings.scope, checkpoint)
    finally:
        await store.aclose()


@dataclass(frozen=True)
class ErasureTarget:
    temporal_address: str
    temporal_namespace: str
    keys_dir: Path
    region: RegionRunRequest
    tls_dir: Path | None = None  # ca.crt, tls.crt, tls.key, as the Temporal TLS Secret holds
    api_key_file: Path | None = None
    plaintext: bool = False  # without TLS or an API key: only when asked for (development)

    @property
    def task_queue(self) -> str:
        region = self.region
        return runtime.task_queue(region.namespace, region.contact_sync, region.region)


async def erase(target: ErasureTarget, subject: SubjectIds) -> ErasureResult:
    """Erase the subject everywhere in the region, and suppress them in later syncs."""

    def request(region: RegionRunRequest) -> ErasureRequest:
        return ErasureRequest(region, email=subject.email, uid=subject.uid, phone=subject.phone)

    return await _signed_run(
        target, authorization.ERASE, "erasure", subject, ERASURE_WORKFLOW, request, ErasureResult
    )


async def lift_suppression(target: ErasureTarget, subject: SubjectIds) -> SuppressionLiftResult:
    """Lift what erasures of the subject suppressed: the next sync writes them again."""

    def request(region: RegionRunRequest) -> SuppressionLiftRequest:
        return SuppressionLiftRequest(
            region, email=subject.email, uid=subject.uid, phone=subject.phone
        )

    return await _signed_run(
        target,
        authorization.LIFT,
        "suppression-lift",
        subject,
        SUPPRESSION_LIFT_WORKFLOW,
        request,
        SuppressionLiftResult,
    )


async def _signed_run(
    target: ErasureTarget,
    kind: str,
    label: str,
    subject: SubjectIds,
    workflow: str,
    request: Callable[[RegionRunRequest], object],
    result_type: type[R],
) -> R:
    """Run one workflow on the region's task queue, signed with the region's request key;
    the subject's values leave this process encrypted by the region's payload codec."""
    from contactsync_worker.main import temporal_api_key, temporal_tls

    if not identifiers.named(subject):
        raise ValueError("name the data subject by --email, --phone or --uid")
    if target.tls_dir is None and target.api_key_file is None and not target.plaintext:
        raise ValueError(
            "no TLS and no API key for Temporal: pass --tls-dir or --api-key-file, or "
            "--plaintext to send the request in plain text (development only)"
        )
    seed = authorization.request_key(target.keys_dir)
    if seed is None:
        raise ValueError(
            f"{target.keys_dir} holds no {REQUESTS_KEY}: erasures and lifts are signed with the "
            "region's request key (from its keys Secret), and workers refuse unsigned ones"
        )
    tls = temporal_tls(target.tls_dir)
    api_key = temporal_api_key(target.api_key_file)
    client = await Client.connect(
        target.temporal_address,
        namespace=target.temporal_namespace,
        tls=tls or bool(api_key),
        api_key=api_key,
        data_converter=data_converter(Keyring.from_directory(target.keys_dir)),
    )
    # The workflow id names no one: a random suffix, never the address.
    workflow_id = f"{target.task_queue}/{label}/{uuid.uuid4().hex}"
    signed = authorization.sign(seed, kind, target.region, workflow_id, datetime.now(UTC), subject)
    region = dataclasses.replace(target.region, authorization=signed)
    result: R = await client.execute_workflow(
        workflow,
        request(region),
        id=workflow_id,
        task_queue=target.task_queue,
        result_type=result_type,
    )
    return result
