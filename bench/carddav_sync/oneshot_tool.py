"""ContactSync one process per sync (``oneshot``): on the harness's Temporal dev server, or
on one the process starts itself, as a user's first ``contactsync local`` does."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import free_port

from bench.carddav_sync import measure
from bench.carddav_sync.contactsync import Region, history_events
from bench.carddav_sync.oneshot import OWN_SERVER, WORKFLOW_ID
from bench.carddav_sync.sample import FULL, SCENARIOS, Sample

MIB_PER_KIB = 1 / 1024


@dataclass
class OneShot:
    name: str
    region: Region
    repo: Path
    radicale_pid: int
    log: Path
    own_server: bool = False

    @property
    def scenarios(self) -> tuple[str, ...]:
        # A dev server of its own starts empty: there is nothing to sync again on it.
        return (FULL,) if self.own_server else SCENARIOS

    def reset(self) -> None:
        self.region.reset()

    def sync(self, scenario: str, run: int) -> Sample:
        workflow_id = self.region.next_workflow_id()
        extra = {WORKFLOW_ID: workflow_id, OWN_SERVER: "1" if self.own_server else ""}
        measured = measure.run(
            [sys.executable, "-m", "bench.carddav_sync.oneshot"],
            env=self.region.env(free_port(), **extra),
            cwd=self.repo,
            server_pid=self.radicale_pid,
            log=self.log,
        )
        try:
            result = json.loads(measured.stdout.splitlines()[-1])
        except (IndexError, ValueError) as exc:
            raise RuntimeError(f"{self.name}: no result in {measured.stdout!r}") from exc
        summary = result["summary"]
        # With a dev server of its own, wait4 would fold the server's figures into the
        # process's: take the process's own.
        cpu, rss = measured.cpu_seconds, measured.peak_rss_mib
        if self.own_server:
            cpu, rss = result["own_cpu_seconds"], result["own_peak_rss_kib"] * MIB_PER_KIB
        events = None
        if not self.own_server:  # that server is gone with its process
            events = history_events(self.region.temporal_address, workflow_id)
        return Sample(
            self.name,
            scenario,
            run,
            seconds=measured.seconds,
            cpu_seconds=cpu,
            peak_rss_mib=rss,
            radicale_cpu_seconds=measured.server_cpu_seconds,
            sync_seconds=result["sync_seconds"],
            imports_seconds=result["imports_seconds"],
            history_events=events,
            written=summary["created"] + summary["updated"],
            server_start_seconds=result["server_start_seconds"],
        )

    def close(self) -> None:
        pass
