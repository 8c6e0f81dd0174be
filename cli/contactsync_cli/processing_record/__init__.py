"""A record of processing activities (GDPR Art. 30(1)) for each ContactSync of a manifest,
built from the typed spec the operator deploys: ``contactsync report``."""

from __future__ import annotations

from collections.abc import Sequence

from contactsync_api.manifest import ContactSync
from contactsync_cli.processing_record.build import build_record
from contactsync_cli.processing_record.model import SCHEMA_VERSION, Report

__all__ = ["SCHEMA_VERSION", "Report", "build_report"]


def build_report(manifest: str, resources: Sequence[ContactSync]) -> Report:
    return Report(manifest=manifest, records=[build_record(r) for r in resources])
