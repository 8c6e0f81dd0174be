"""The benchmark harness's own logic: the book written as Radicale's files, the medians and
ratios it reports, and the bench-only worker overrides (a converter that differs by its
codec alone, a longer read timeout) that hold inside their block only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from bench.carddav_sync import bench_worker, book, radicale_files, report
from bench.carddav_sync.bench_worker import plain_converter
from bench.carddav_sync.sample import DEPLOYED, FULL, NO_CHANGE, PLAIN, VDIRSYNCER, Sample

from contactsync_worker import main as worker_main
from contactsync_worker import transport
from contactsync_worker.codec import data_converter
from contactsync_worker.keyring import Keyring


def test_the_book_is_written_in_radicales_layout_one_file_a_card(tmp_path: Path) -> None:
    directory = radicale_files.write(tmp_path, "someone", "bench", 3, seed=1)
    assert directory == tmp_path / "collection-root" / "someone" / "bench"
    assert json.loads((directory / ".Radicale.props").read_text()) == {"tag": "VADDRESSBOOK"}
    cards = sorted(p.name for p in directory.glob("*.vcf"))
    assert cards == [book.href(i) for i in range(3)]
    assert (directory / book.href(2)).read_bytes() == book.card(2, seed=1).encode()


def _sample(tool: str, scenario: str, run: int, seconds: float, cpu: float = 1.0) -> Sample:
    return Sample(tool, scenario, run, seconds, cpu, 100.0, 0.5, history_events=23)


def test_medians_are_per_scenario_and_tool_over_the_runs() -> None:
    samples = [
        _sample(DEPLOYED, FULL, run, seconds) for run, seconds in ((1, 3.0), (2, 1.0), (3, 2.0))
    ]
    table = report.medians(samples)
    assert table[FULL][DEPLOYED]["seconds"] == 2.0
    assert table[FULL][DEPLOYED]["history_events"] == 23
    assert NO_CHANGE not in table


def test_ratios_put_each_row_over_vdirsyncer_and_the_codec_over_no_codec() -> None:
    table = report.medians(
        [
            _sample(VDIRSYNCER, FULL, 1, 10.0),
            _sample(DEPLOYED, FULL, 1, 5.0, cpu=2.1),
            _sample(PLAIN, FULL, 1, 4.0, cpu=2.0),
        ]
    )
    found = report.ratios(table)[FULL]
    assert found["deployed/vdirsyncer seconds"] == 0.5
    assert found["encrypted/plain seconds"] == 1.25
    assert round(found["encrypted/plain cpu_seconds"], 3) == 1.05


def test_the_bench_only_converter_is_the_workers_without_its_codec(tmp_path: Path) -> None:
    (tmp_path / "k0001").write_text("A" * 43 + "=")
    workers = data_converter(Keyring.from_directory(tmp_path))
    plain = plain_converter()
    assert workers.payload_codec is not None
    assert plain.payload_codec is None
    assert plain.failure_converter_class is workers.failure_converter_class
    assert plain.payload_converter_class is workers.payload_converter_class


async def test_the_bench_overrides_hold_inside_their_block_only() -> None:
    env = {bench_worker.PLAIN: "1", bench_worker.READ_TIMEOUT: "600"}
    with bench_worker.overridden(env):
        assert vars(worker_main)["data_converter"] is plain_converter
        async with transport.http_client(
            "http://127.0.0.1/", allow_insecure=True, ca_bundle=None
        ) as client:
            assert client.timeout.read == 600
    assert vars(worker_main)["data_converter"] is data_converter
    async with transport.http_client(
        "http://127.0.0.1/", allow_insecure=True, ca_bundle=None
    ) as client:
        assert client.timeout.read == transport.DEFAULT_TIMEOUT.read


@pytest.mark.parametrize("bench", ["carddav_sync", "file_sync", "scale_out", "operator_scale"])
def test_each_benchmark_explains_its_options(bench: str) -> None:
    """docs/benchmarks.md sends readers to ``--help``: it must print, not fail on a ``%`` in
    a choice's name."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m bench.")
