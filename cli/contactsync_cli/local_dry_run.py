"""``contactsync run --dry-run``: what a run would create, update and delete in each
destination, from the same state, keys and credentials a run uses, written nowhere.

The engine's dry run (contactsync_worker.dry_run) reads the sources and a throwaway copy of
each region's state; no Temporal server is started, no destination is connected to, and the
run's state store, audit trail and sync tokens stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from contactsync_api.manifest import ContactSync
from contactsync_cli.exit_codes import EXIT_MASS_DELETE_BLOCKED, EXIT_OK
from contactsync_cli.local_run import (
    RunOptions,
    exclusive_state,
    region_settings,
    run_credentials,
)
from contactsync_cli.run_failures import application_failure
from contactsync_cli.state_dir import resource_state
from contactsync_worker.dry_run import describe, dry_run
from contactsync_worker.failures import reported

Report = Callable[[str], None]


@dataclass(frozen=True)
class DryRunOptions:
    changes: bool = False  # list each change by contact id and field names
    values: bool = False  # and with the values: contact data on the terminal


async def dry_run_contact_sync(
    resource: ContactSync,
    options: RunOptions,
    shown: DryRunOptions,
    report: Report,
    error: Report,
) -> int:
    """Dry-run every region of ``resource``; the exit code a run would end with (the first
    region's that would fail), after reporting each region."""
    state = resource_state(options.state_root, resource.namespace, resource.name)
    codes: list[int] = []
    with exclusive_state(state):
        async with run_credentials(resource, options, state, report) as secrets_dir:
            for region in resource.spec.regions:
                settings = region_settings(resource, region.name, state, secrets_dir, options, "")
                try:
                    planned = await dry_run(settings, detail=shown.changes, values=shown.values)
                except Exception as exc:  # translated as the worker translates it for Temporal
                    failure = reported(exc, f"dry run of region {region.name}")
                    said = application_failure(failure.type, failure.message, secrets_dir)
                    error(f"region {region.name}: {said.words}")
                    codes.append(said.exit_code)
                    continue
                for line in describe(planned):
                    report(line)
                codes.append(EXIT_MASS_DELETE_BLOCKED if planned.blocked else EXIT_OK)
    return next((code for code in codes if code != EXIT_OK), EXIT_OK)
