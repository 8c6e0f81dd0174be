"""Medians over the runs, the ratios the goals name, the table on stdout and the JSON."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.carddav_sync.sample import DEPLOYED, FULL, PLAIN, SCENARIOS, TOOLS, VDIRSYNCER, Sample

RESULTS = Path(__file__).resolve().parent.parent / "results"
MEASURES = (
    "seconds",
    "cpu_seconds",
    "peak_rss_mib",
    "radicale_cpu_seconds",
    "sync_seconds",
    "imports_seconds",
    "history_events",
    "idle_rss_mib",
    "server_start_seconds",
)
Table = dict[str, dict[str, dict[str, float]]]


def medians(samples: Sequence[Sample]) -> Table:
    """scenario → tool → measure → median over the runs (the measures a tool has)."""
    table: Table = {}
    for scenario in SCENARIOS:
        for tool in TOOLS:
            runs = [s for s in samples if s.scenario == scenario and s.tool == tool]
            if runs:
                table.setdefault(scenario, {})[tool] = {
                    measure: statistics.median(values)
                    for measure in MEASURES
                    if (values := [v for s in runs if (v := getattr(s, measure)) is not None])
                }
    return table


def _ratio(tools: dict[str, dict[str, float]], over: str, under: str, measure: str) -> float:
    if over in tools and under in tools and measure in tools[over] and tools[under].get(measure):
        return tools[over][measure] / tools[under][measure]
    return float("nan")


def ratios(table: Table) -> dict[str, dict[str, float]]:
    """Each ContactSync row's wall time over vdirsyncer's (below 1 is faster), and the
    payload codec's cost: the running worker's wall time and CPU with it over without."""
    found: dict[str, dict[str, float]] = {}
    for scenario, tools in table.items():
        row = {
            f"{tool}/vdirsyncer seconds": _ratio(tools, tool, VDIRSYNCER, "seconds")
            for tool in tools
            if tool != VDIRSYNCER
        }
        row["encrypted/plain seconds"] = _ratio(tools, DEPLOYED, PLAIN, "seconds")
        row["encrypted/plain cpu_seconds"] = _ratio(tools, DEPLOYED, PLAIN, "cpu_seconds")
        found[scenario] = {k: v for k, v in row.items() if v == v}  # drop the NaNs
    return found


def _cell(values: dict[str, float], measure: str, digits: int = 2) -> str:
    return f"{values[measure]:.{digits}f}" if measure in values else "-"


def text_table(table: Table, runs: int, cards: int) -> str:
    rows = [
        f"{cards:,} cards, medians of {runs} run(s); ratio = the row's wall time / vdirsyncer's",
        "",
        "| scenario | tool | wall s | ratio | workflow alone s | start and imports s "
        "| CPU s | Radicale CPU s | peak RSS MiB | history events |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, tools in table.items():
        for tool, values in tools.items():
            ratio = _ratio(tools, tool, VDIRSYNCER, "seconds")
            rows.append(
                f"| {scenario} | {tool} | {values['seconds']:.2f} "
                f"| {'-' if ratio != ratio or tool == VDIRSYNCER else f'{ratio:.2f}'} "
                f"| {_cell(values, 'sync_seconds')} | {_cell(values, 'imports_seconds')} "
                f"| {values['cpu_seconds']:.2f} | {values['radicale_cpu_seconds']:.2f} "
                f"| {values['peak_rss_mib']:.1f} | {_cell(values, 'history_events', 0)} |"
            )
    if FULL in table:
        speeds = (f"{t} {cards / v['seconds']:.0f}" for t, v in table[FULL].items())
        rows += ["", f"full sync, cards/s (medians): {', '.join(speeds)}"]
    codec = [
        f"{scenario} {r['encrypted/plain seconds']:.3f} "
        f"(CPU {r['encrypted/plain cpu_seconds']:.3f})"
        for scenario, r in ratios(table).items()
        if "encrypted/plain seconds" in r
    ]
    if codec:
        rows += ["", f"payload codec, running worker with / without: {'; '.join(codec)}"]
    return "\n".join(rows)


def write_json(path: Path, samples: Sequence[Sample], context: dict[str, Any]) -> None:
    table = medians(samples)
    document = {
        **context,
        "medians": table,
        "ratios": ratios(table),
        "samples": [dataclasses.asdict(s) for s in samples],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")
