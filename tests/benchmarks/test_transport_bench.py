"""Smoke runs of the transport benchmark (real Mosquitto, real aggregators), so it cannot rot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.transport import bench
from benchmarks.transport.sustained import SustainedLoad

pytestmark = pytest.mark.skipif(
    shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists(),
    reason="Mosquitto is not installed",
)


def test_sustained_run_stores_every_event_once_with_two_aggregators(tmp_path: Path) -> None:
    load = SustainedLoad(nodes=2, per_node=150, aggregators=2)

    run = bench._run_sustained("sqlite", load, tmp_path)

    assert run["stored"] == run["counted_in_store"] == 300
    assert run["duplicates"] == 0
    assert run["events_per_s"] > 0
    assert {"aggregator_cpu_us_per_event", "nodes_cpu_us_per_event"} <= run.keys()
    assert run["broker_cpu_us_per_event"] >= 0


def test_end_to_end_run_counts_what_the_consumer_stored(tmp_path: Path) -> None:
    run = bench._run("sqlite", "end_to_end", bench._Load(2, 100, 0.0), tmp_path)

    assert run["stored"] == 200
    assert run["duplicates"] == 0
