"""Medians and ratios of the samples: a table on stdout, JSON and a plot under bench/results/."""

from __future__ import annotations

import dataclasses
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.carddav_sync.scenarios import (
    CONTACTSYNC,
    SCENARIOS,
    TOOLS,
    VDIRSYNCER,
    Sample,
)

RESULTS = Path(__file__).resolve().parent.parent / "results"
_MEASURES = (
    "seconds",
    "cpu_seconds",
    "peak_rss_mib",
    "radicale_cpu_seconds",
    "sync_seconds",
    "imports_seconds",
    "history_events",
)


def medians(samples: Sequence[Sample]) -> dict[str, dict[str, dict[str, float]]]:
    """scenario → tool → measure → median over the runs (measures a tool has)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for scenario in SCENARIOS:
        table[scenario] = {}
        for tool in TOOLS:
            runs = [s for s in samples if s.scenario == scenario and s.tool == tool]
            table[scenario][tool] = {
                measure: statistics.median(values)
                for measure in _MEASURES
                if (values := [v for s in runs if (v := getattr(s, measure)) is not None])
            }
    return table


def ratios(table: dict[str, dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """ContactSync's median over vdirsyncer's: below 1 is faster (or smaller)."""
    return {
        scenario: {
            measure: tools[CONTACTSYNC][measure] / tools[VDIRSYNCER][measure]
            for measure in ("seconds", "peak_rss_mib")
        }
        for scenario, tools in table.items()
    }


def text_table(table: dict[str, dict[str, dict[str, float]]], runs: int, cards: int) -> str:
    rows = [
        f"{cards:,} cards, medians of {runs} run(s) each; ratio = ContactSync / vdirsyncer",
        "",
        "| scenario | vdirsyncer s | ContactSync s | ratio | ContactSync: sync alone s "
        "| process start and imports s | Radicale CPU s (vdirsyncer / ContactSync) "
        "| peak RSS MiB (vdirsyncer / ContactSync) | history events |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario, tools in table.items():
        v, c = tools[VDIRSYNCER], tools[CONTACTSYNC]
        rows.append(
            f"| {scenario} | {v['seconds']:.2f} | {c['seconds']:.2f} "
            f"| {c['seconds'] / v['seconds']:.2f} | {c['sync_seconds']:.2f} "
            f"| {c['imports_seconds']:.2f} "
            f"| {v['radicale_cpu_seconds']:.2f} / {c['radicale_cpu_seconds']:.2f} "
            f"| {v['peak_rss_mib']:.1f} / {c['peak_rss_mib']:.1f} "
            f"| {c['history_events']:.0f} |"
        )
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


def plot(path: Path, samples: Sequence[Sample], title: str) -> None:
    """Wall time and peak memory per scenario: bars for the medians, dots for the runs."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    table = medians(samples)
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.38
    for offset, tool, label in (
        (-1, VDIRSYNCER, "vdirsyncer 0.21.0 → files"),
        (1, CONTACTSYNC, "ContactSync → PostgreSQL"),
    ):
        positions = [i + offset * width / 2 for i in range(len(SCENARIOS))]
        for axis, measure in ((time_axis, "seconds"), (memory_axis, "peak_rss_mib")):
            heights = [table[s][tool][measure] for s in SCENARIOS]
            axis.bar(positions, heights, width, label=label)
            _dots(axis, samples, tool, positions, measure)
    for axis, unit in (
        (time_axis, "wall time of the process, s"),
        (memory_axis, "peak resident memory, MiB"),
    ):
        axis.set_xticks(range(len(SCENARIOS)), SCENARIOS)
        axis.set_ylabel(unit)
        axis.grid(axis="y", alpha=0.3)
    time_axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _dots(
    axis: Any,
    samples: Sequence[Sample],
    tool: str,
    positions: Sequence[float],
    measure: str,
) -> None:
    for position, scenario in zip(positions, SCENARIOS, strict=True):
        values = [getattr(s, measure) for s in samples if s.tool == tool and s.scenario == scenario]
        axis.scatter([position] * len(values), values, s=10, color="black", zorder=3)
