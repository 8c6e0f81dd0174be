"""The plot: wall time and peak memory per scenario, a bar per tool for the median and a dot
per run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.carddav_sync.report import medians
from bench.carddav_sync.sample import LABELS, Sample


def plot(path: Path, samples: Sequence[Sample], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    table = medians(samples)
    scenarios = list(table)
    tools = list(dict.fromkeys(tool for tools in table.values() for tool in tools))
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.8 / len(tools)
    for number, tool in enumerate(tools):
        offset = (number - (len(tools) - 1) / 2) * width
        where = [(i + offset, s) for i, s in enumerate(scenarios) if tool in table[s]]
        for axis, measure in ((time_axis, "seconds"), (memory_axis, "peak_rss_mib")):
            axis.bar(
                [x for x, _ in where],
                [table[s][tool][measure] for _, s in where],
                width,
                label=LABELS[tool],
            )
            _dots(axis, samples, tool, where, measure)
    for axis, unit in (
        (time_axis, "wall time, s (running worker: start of workflow to result)"),
        (memory_axis, "peak resident memory of the tool's process, MiB"),
    ):
        axis.set_xticks(range(len(scenarios)), scenarios)
        axis.set_ylabel(unit)
        axis.grid(axis="y", alpha=0.3)
    time_axis.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _dots(
    axis: Any, samples: Sequence[Sample], tool: str, where: list[tuple[float, str]], measure: str
) -> None:
    for position, scenario in where:
        values = [getattr(s, measure) for s in samples if s.tool == tool and s.scenario == scenario]
        axis.scatter([position] * len(values), values, s=10, color="black", zorder=3)
