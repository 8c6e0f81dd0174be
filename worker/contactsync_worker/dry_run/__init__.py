"""Dry runs: what a sync of one region would create, update and delete, written nowhere."""

from contactsync_worker.dry_run.report import (
    Change,
    ContactChange,
    DestinationPlan,
    DryRunReport,
    GuardCheck,
    SourceReading,
    describe,
)
from contactsync_worker.dry_run.run import dry_run

__all__ = [
    "Change",
    "ContactChange",
    "DestinationPlan",
    "DryRunReport",
    "GuardCheck",
    "SourceReading",
    "describe",
    "dry_run",
]
