"""Open data: counts by class and direction, speeds, k-suppression, no personal fields."""

from __future__ import annotations

import argparse
import csv
import json
from datetime import timedelta
from pathlib import Path

from cloud.api.cli import register_api_commands
from tests.api.conftest import T0, Backend, make_event
from traffic_monitor.contract import Event, EventType, Severity


def _count_event(minutes: float, car_in: int, motorcycle_out: int) -> Event:
    return Event(
        camera_id="cam-1",
        site_id="hcm-q1",
        node_id="node-1",
        time=T0 + timedelta(minutes=minutes),
        type=EventType.COUNT,
        rule="count-line",
        measurements={
            "count": car_in + motorcycle_out,
            "in": car_in,
            "out": motorcycle_out,
            "car_in": car_in,
            "motorcycle_out": motorcycle_out,
        },
        attributes={"line": "main", "interval_s": 60},
    )


def _speed(minutes: float, kmh: float, track: int) -> Event:
    return Event(
        camera_id="cam-1",
        site_id="hcm-q1",
        node_id="node-1",
        time=T0 + timedelta(minutes=minutes),
        type=EventType.SPEEDING,
        severity=Severity.MEDIUM,
        track_id=track,
        measurements={"speed_kmh": kmh},
    )


def _fill(b: Backend) -> None:
    b.add_events(_count_event(1, 7, 30), _count_event(2, 3, 2))  # car_in 10, moto_out 32
    b.add_events(*[_speed(3, 40.0 + i, track=1000 + i) for i in range(10)])
    b.add_events(_count_event(20, 2, 1))  # second interval: all below k=5


def test_open_data_api_aggregates_and_suppresses(backend: Backend):
    _fill(backend)
    h = backend.login("viewer")
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    body = backend.client.get("/api/open-data", params=params, headers=h).json()
    first = {
        (r["object_class"], r["direction"]): r["count"]
        for r in body["counts"]
        if r["interval_start"] == T0.isoformat()
    }
    assert first == {("car", "in"): 10, ("motorcycle", "out"): 32}
    later = [r for r in body["counts"] if r["interval_start"] != T0.isoformat()]
    assert later and all(r["count"] is None for r in later)  # 2 and 1 < k=5
    speed = body["speeds"][0]
    assert speed["speed_samples"] == 10 and speed["mean_speed_kmh"] == 44.5
    assert speed["p85_speed_kmh"] == 47.6
    types = {
        r["event_type"]: r["count"] for r in body["events"] if r["interval_start"] == T0.isoformat()
    }
    assert types == {"count": None, "speeding": 10}  # 2 count events < k
    text = json.dumps({k: v for k, v in body.items() if k != "metadata"})
    assert "track" not in text and "event_id" not in text and "1003" not in text
    assert body["metadata"]["dct:license"].startswith("https://creativecommons.org/")
    assert body["metadata"]["suppression_k"] == 5
    assert backend.client.get("/api/open-data", params=params).status_code == 401


def test_export_cli_writes_csv_json_and_dcat(sqlite_backend: Backend, tmp_path: Path):
    _fill(sqlite_backend)
    parser = argparse.ArgumentParser()
    register_api_commands(parser.add_subparsers())
    out = tmp_path / "od"
    url = str(sqlite_backend.store.engine.url)
    args = parser.parse_args(
        ["export-open-data", "--database-url", url, "--from", T0.isoformat(),
         "--to", (T0 + timedelta(hours=1)).isoformat(), "--out", str(out), "--k", "3"]
    )  # fmt: skip
    assert args.handler(args) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "counts.csv", "counts.json", "events.csv", "events.json", "metadata.json",
        "speeds.csv", "speeds.json",
    ]  # fmt: skip
    rows = list(csv.DictReader((out / "counts.csv").open(encoding="utf-8")))
    assert {r["count"] for r in rows if r["interval_start"] != T0.isoformat()} == {""}
    assert {"car", "motorcycle"} == {r["object_class"] for r in rows}
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta["@type"] == "dcat:Dataset" and meta["dct:spatial"] == ["hcm-q1/cam-1"]
    assert meta["dct:temporal"]["dcat:startDate"].startswith("2026-11-23T08:00")


def test_stats_endpoint_is_unsuppressed_and_filters_camera(sqlite_backend: Backend):
    _fill(sqlite_backend)
    sqlite_backend.add_events(make_event(camera="cam-2"))
    h = sqlite_backend.login("viewer")
    params = {
        "start": T0.isoformat(),
        "end": (T0 + timedelta(hours=1)).isoformat(),
        "camera_id": "cam-1",
    }
    body = sqlite_backend.client.get("/api/stats", params=params, headers=h).json()
    later = [r["count"] for r in body["counts"] if r["interval_start"] != T0.isoformat()]
    assert sorted(later) == [1, 2]  # not suppressed here
    assert {r["camera_id"] for rows in body.values() for r in rows} == {"cam-1"}
