"""Medians of the samples: a table on stdout and JSON under bench/results/."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.file_sync.scenarios import FORMATS, SCENARIOS, Sample

RESULTS = Path(__file__).resolve().parent.parent / "results"
_MEASURES = (
    "seconds",
    "sync_seconds",
    "imports_seconds",
    "records_per_second",
    "sync_records_per_second",
    "cpu_seconds",
    "peak_rss_mib",
    "temporal_cpu_seconds",
)


def medians(samples: Sequence[Sample]) -> dict[str, dict[str, dict[str, float]]]:
    """format → scenario → measure → median over the runs."""
    return {
        kind: {
            scenario: {
                measure: statistics.median(getattr(s, measure) for s in runs)
                for measure in _MEASURES
            }
            for scenario in SCENARIOS
            if (runs := [s for s in samples if s.format == kind and s.scenario == scenario])
        }
        for kind in FORMATS
    }


def text_table(table: dict[str, dict[str, dict[str, float]]], runs: int, records: int) -> str:
    rows = [
        f"{records:,} records, medians of {runs} run(s); the worker as a whole process",
        "",
        "| file | scenario | wall s | records/s | sync alone s | records/s (sync alone) "
        "| worker CPU s | worker peak RSS MiB | Temporal CPU s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, scenarios in table.items():
        for scenario, m in scenarios.items():
            rows.append(
                f"| {kind} | {scenario} | {m['seconds']:.1f} | {m['records_per_second']:,.0f} "
                f"| {m['sync_seconds']:.1f} | {m['sync_records_per_second']:,.0f} "
                f"| {m['cpu_seconds']:.1f} | {m['peak_rss_mib']:.1f} "
                f"| {m['temporal_cpu_seconds']:.1f} |"
            )
    return "\n".join(rows)


def write_json(path: Path, samples: Sequence[Sample], context: dict[str, Any]) -> None:
    document = {
        **context,
        "medians": medians(samples),
        "samples": [
            {
                **dataclasses.asdict(s),
                "records_per_second": s.records_per_second,
                "sync_records_per_second": s.sync_records_per_second,
            }
            for s in samples
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
