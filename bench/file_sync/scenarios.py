"""The scenarios, per file format: a full sync from nothing, then a sync with nothing
changed, each a whole worker process timed from outside; the formats' order swaps run by
run. A run that did not write what it should stops the benchmark."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.carddav_sync import measure
from bench.file_sync.region import FileSyncRun

FULL, NO_CHANGE = "full", "no-change"
SCENARIOS = (FULL, NO_CHANGE)
FORMATS = ("csv", "jsonl")


@dataclass(frozen=True)
class Sample:
    format: str
    scenario: str
    run: int
    records: int
    seconds: float  # the whole process: interpreter, imports, worker start, sync, shutdown
    sync_seconds: float  # the sync workflow alone, as its client waited for it
    imports_seconds: float
    cpu_seconds: float  # of the worker process
    peak_rss_mib: float  # of the worker process
    temporal_cpu_seconds: float  # the Temporal dev server's CPU meanwhile
    created: int
    updated: int
    unchanged: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds

    @property
    def sync_records_per_second(self) -> float:
        return self.records / self.sync_seconds


@dataclass
class Bench:
    files: dict[str, Path]  # format → the file
    records: int
    region: FileSyncRun
    temporal_pid: int
    repo: Path
    log: Path

    def run_one(self, kind: str, scenario: str, run: int) -> Sample:
        if scenario == FULL:
            self.region.reset(kind, self.files[kind])
        workflow_id = self.region.next_workflow_id()
        measured = measure.run(
            self.region.argv(),
            env=self.region.env(workflow_id),
            cwd=self.repo,
            server_pid=self.temporal_pid,
            log=self.log,
        )
        result = json.loads(measured.stdout)
        summary = result["summary"]
        sample = Sample(
            kind,
            scenario,
            run,
            self.records,
            seconds=measured.seconds,
            sync_seconds=result["sync_seconds"],
            imports_seconds=result["imports_seconds"],
            cpu_seconds=measured.cpu_seconds,
            peak_rss_mib=measured.peak_rss_mib,
            temporal_cpu_seconds=measured.server_cpu_seconds,
            created=summary["created"],
            updated=summary["updated"],
            unchanged=summary["unchanged"],
        )
        self.check(sample, summary)
        return sample

    def check(self, sample: Sample, summary: dict[str, int]) -> None:
        """A fast run that did not do the work would be a wrong figure: stop instead."""
        created = self.records if sample.scenario == FULL else 0
        wrong = (
            sample.created != created
            or sample.updated != 0
            or summary["deleted"] != 0
            or summary["quarantined"] != 0
            or (sample.scenario == NO_CHANGE and sample.unchanged != self.records)
            or self.region.rows() != self.records
        )
        if wrong:
            raise RuntimeError(f"{sample.format} {sample.scenario}: wrong result {summary}")

    def run_all(self, runs: int, say: Callable[[str], None]) -> list[Sample]:
        samples: list[Sample] = []
        for run in range(1, runs + 1):
            for kind in FORMATS if run % 2 else FORMATS[::-1]:
                for scenario in SCENARIOS:
                    sample = self.run_one(kind, scenario, run)
                    samples.append(sample)
                    say(
                        f"run {run}/{runs} {kind:>5} {scenario:>9}: {sample.seconds:8.2f} s, "
                        f"{sample.records_per_second:8.0f} records/s, "
                        f"{sample.peak_rss_mib:6.1f} MiB"
                    )
        return samples
