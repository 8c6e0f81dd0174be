"""Medians and the ratio of the timed runs: a table on stdout, every sample as JSON."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.scale_out.region import ONE, SETUPS
from bench.scale_out.runs import Sample, describe

RESULTS = Path(__file__).resolve().parent.parent / "results"


def timed(samples: Sequence[Sample], setup: str) -> list[Sample]:
    return [s for s in samples if s.setup == setup and s.run > 0]


def medians(samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Set-up → the median of its timed runs: seconds, and each party's CPU seconds."""
    table: dict[str, dict[str, float]] = {}
    for setup in SETUPS.values():
        runs = timed(samples, setup.name)
        if not runs:
            continue
        row = {"seconds": statistics.median(s.seconds for s in runs)}
        for party in runs[0].cpu_seconds:
            row[f"cpu_seconds.{party}"] = statistics.median(s.cpu_seconds[party] for s in runs)
        table[setup.name] = row
    return table


def speed_ups(table: dict[str, dict[str, float]]) -> dict[str, float]:
    """One worker's median time over each other set-up's: above 1, that one is faster."""
    return {
        name: table[ONE.name]["seconds"] / row["seconds"]
        for name, row in table.items()
        if name != ONE.name
    }


def paired(samples: Sequence[Sample]) -> dict[str, list[float]]:
    """Run by run, one worker's time over each other set-up's in the same run."""
    ones = {s.run: s.seconds for s in timed(samples, ONE.name)}
    ratios: dict[str, list[float]] = {}
    for sample in samples:
        if sample.setup != ONE.name and sample.run in ones:
            ratios.setdefault(sample.setup, []).append(ones[sample.run] / sample.seconds)
    return ratios


def text_table(samples: Sequence[Sample], cards: int, latency_ms: float) -> str:
    table = medians(samples)
    runs = len(timed(samples, ONE.name))
    rows = [
        f"{cards:,} cards, {latency_ms:g} ms added to each request, cards by multiget; "
        f"medians of {runs} run(s), workflow start to result",
        "",
        "| set-up | median s | every run s | CPU s: workers / Radicale / PostgreSQL / Temporal |",
        "|---|---|---|---|",
    ]
    for setup in (s for s in SETUPS.values() if s.name in table):
        median = table[setup.name]
        every = ", ".join(f"{s.seconds:.2f}" for s in timed(samples, setup.name))
        cpu = " / ".join(
            f"{median[f'cpu_seconds.{party}']:.1f}"
            for party in ("workers", "radicale", "postgres", "temporal")
        )
        rows.append(f"| {setup.describe()} | {median['seconds']:.2f} | {every} | {cpu} |")
    rows.append("")
    by_run = paired(samples)
    rows += [
        f"speed-up, {ONE.name} / {name}: {ratio:.2f} (run by run: "
        + ", ".join(f"{r:.2f}" for r in by_run[name])
        + ")"
        for name, ratio in speed_ups(table).items()
    ]
    rows.append("")
    rows += [f"{s.setup} run {s.run}: {describe(s)}" for s in samples if s.setup != ONE.name]
    return "\n".join(rows)


def write_json(path: Path, samples: Sequence[Sample], context: dict[str, Any]) -> None:
    table = medians(samples)
    document = {
        **context,
        "setups": [dataclasses.asdict(s) for s in SETUPS.values() if s.name in table],
        "medians": table,
        "speed_ups": speed_ups(table),
        "speed_ups_run_by_run": paired(samples),
        "samples": [dataclasses.asdict(s) for s in samples],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
