"""Open data: counts by class and direction, speeds, k-suppression, no personal fields."""

from __future__ import annotations

import argparse
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from cloud.api.cli import register_api_commands
from cloud.db import EventRecord
from cloud.opendata import OpenDataQuery, aggregate
from edge.pipeline.analytics import CameraAnalytics
from tests.analytics.factories import NAMES, play, scene
from tests.analytics.test_crossing_speeds import CALIBRATION, LINE, drive
from tests.api.conftest import Backend
from tests.events import T0, at, make_event
from traffic_monitor.contract import Event, EventType, Severity

HOUR = timedelta(hours=1)


def _count_event(
    minutes: float,
    car_in: int,
    motorcycle_out: int,
    speeds: tuple[int, float, float] | None = None,
    line: str = "main",
    interval_s: int = 60,
) -> Event:
    """A line's count event; ``speeds``: (samples, mean, P85) of the crossing vehicles."""
    measured = {}
    if speeds is not None:
        samples, mean, p85 = speeds
        measured = {"speed_samples": samples, "speed_mean_kmh": mean, "speed_p85_kmh": p85}
    return make_event(
        EventType.COUNT,
        time=at(minutes),
        measurements={
            "count": car_in + motorcycle_out,
            "count_in": car_in,
            "count_out": motorcycle_out,
            "classes": [
                {"object_class": "car", "direction": "in", "count": car_in},
                {"object_class": "motorcycle", "direction": "out", "count": motorcycle_out},
            ],
            **measured,
        },
        attributes={"line": line, "interval_s": interval_s},
    )


def _speed(minutes: float, kmh: float, track: int) -> Event:
    return make_event(
        EventType.SPEEDING,
        time=at(minutes),
        severity=Severity.MEDIUM,
        track_id=track,
        measurements={"speed_kmh": kmh},
    )


def _fill(b: Backend) -> None:
    # car_in 10, moto_out 32; speeds of 10 crossings: 6 at mean 40 / P85 45, 4 at 50 / 60
    b.add_events(_count_event(1, 7, 30, (6, 40.0, 45.0)), _count_event(2, 3, 2, (4, 50.0, 60.0)))
    # the same vehicles again in the line's 900 s interval: not counted twice
    b.add_events(_count_event(3, 10, 32, (10, 44.0, 51.0), interval_s=900))
    # speeding events carry only the fast vehicles' speeds: never used for the speeds table
    b.add_events(*[_speed(3, 90.0 + i, track=1000 + i) for i in range(10)])
    b.add_events(_count_event(20, 2, 1, (3, 30.0, 35.0)))  # second interval: all below k=5


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
    speed, later_speed = body["speeds"]
    assert speed["speed_samples"] == 10 and speed["mean_speed_kmh"] == 44.0
    assert speed["p85_speed_kmh"] == 51.0  # (6 × 45 + 4 × 60) / 10
    assert later_speed["speed_samples"] is None and later_speed["mean_speed_kmh"] is None
    assert later_speed["p85_speed_kmh"] is None  # 3 samples < k=5
    types = {
        r["event_type"]: r["count"] for r in body["events"] if r["interval_start"] == T0.isoformat()
    }
    assert types == {"count": None, "speeding": 10}  # 3 count events < k
    text = json.dumps({k: v for k, v in body.items() if k != "metadata"})
    assert "track" not in text and "event_id" not in text and "1003" not in text
    assert body["metadata"]["dct:license"].startswith("https://creativecommons.org/")
    assert body["metadata"]["suppression_k"] == 5
    assert backend.client.get("/api/open-data", params=params).status_code == 401


def test_speeding_events_do_not_bias_open_data_speeds(sqlite_backend: Backend):
    b = sqlite_backend
    b.add_events(_count_event(1, 20, 0, (20, 30.0, 36.0), line="north"))
    b.add_events(_count_event(2, 0, 5, (5, 40.0, 46.0), line="south"))
    b.add_events(_count_event(3, 9, 0, line="west"))  # an uncalibrated line: counts only
    b.add_events(*[_speed(4, 120.0, track=2000 + i) for i in range(50)])
    h = b.login("viewer")
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(hours=1)).isoformat()}
    (speed,) = b.client.get("/api/open-data", params=params, headers=h).json()["speeds"]
    assert speed["speed_samples"] == 25
    assert speed["mean_speed_kmh"] == 32.0  # (20 × 30 + 5 × 40) / 25; speeding ignored
    assert speed["p85_speed_kmh"] == 38.0  # sample-weighted mean of the lines' P85s


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
        "sites.csv", "sites.json", "speeds.csv", "speeds.json",
    ]  # fmt: skip
    rows = list(csv.DictReader((out / "counts.csv").open(encoding="utf-8")))
    assert {r["count"] for r in rows if r["interval_start"] != T0.isoformat()} == {""}
    assert {"car", "motorcycle"} == {r["object_class"] for r in rows}
    meta = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert meta["@type"] == "dcat:Dataset"
    assert [p["dct:identifier"] for p in meta["dct:spatial"]] == ["hcm-q1/cam-1"]
    assert meta["dct:temporal"]["dcat:startDate"].startswith("2026-11-23T08:00")


def test_stats_endpoint_is_unsuppressed_and_filters_camera(sqlite_backend: Backend):
    _fill(sqlite_backend)
    sqlite_backend.add_events(make_event(time=T0, camera_id="cam-2"))
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


def test_edge_count_events_give_unbiased_open_data_speeds(sqlite_backend: Backend):
    """The real edge rules: speeding events for the fast cars, count events for all of them."""
    road = {
        "name": "road",
        "kind": "carriageway",
        "polygon": [[0, 0], [640, 0], [640, 480], [0, 480]],
    }
    limited = {**road, "speed_limit": {"default": 50}}
    analytics = CameraAnalytics(
        scene(
            zones=[limited],
            lines=[LINE],
            calibration=CALIBRATION,
            rules={"line_crossing": {"intervals_s": [60]}, "speeding": {"on_s": 0.3}},
        ),
        NAMES,
    )
    speeds = [30.0, 40.0, 50.0, 60.0, 70.0, 80.0]
    events = play(analytics, [drive(50 + 100 * i, kmh) for i, kmh in enumerate(speeds)], 6)
    assert {e.type for e in events} >= {EventType.COUNT, EventType.SPEEDING}
    sqlite_backend.add_events(*events)
    start = datetime.fromtimestamp(1.7e9, UTC)
    tables = aggregate(sqlite_backend.store, OpenDataQuery(start=start, end=start + HOUR))
    (row,) = tables["speeds"]
    assert row["speed_samples"] == 6
    assert row["mean_speed_kmh"] == pytest.approx(55.0, abs=0.5)
    assert row["p85_speed_kmh"] == pytest.approx(np.percentile(speeds, 85), abs=0.5)


def _as_schema_1(b: Backend) -> None:
    """Rewrite every stored count payload as a schema-1 node sent it (class in key names)."""
    with b.store.session() as db:
        for record in db.query(EventRecord).filter(EventRecord.type == "count"):
            payload = dict(record.payload)
            m = dict(payload["measurements"])
            v1 = {k: m[k] for k in m if k not in ("classes", "count_in", "count_out")}
            v1 |= {f"{r['object_class']}_{r['direction']}": float(r["count"]) for r in m["classes"]}
            v1 |= {"in": m.get("count_in", 0.0), "out": m.get("count_out", 0.0)}
            record.payload = payload | {"schema_version": 1, "measurements": v1}
        db.commit()


def test_counts_stored_in_schema_1_export_the_same(sqlite_backend: Backend):
    b = sqlite_backend
    _fill(b)
    query = OpenDataQuery(start=T0, end=T0 + HOUR, k=1)
    typed = aggregate(b.store, query)
    _as_schema_1(b)
    with b.store.session() as db:
        stored = db.query(EventRecord).filter(EventRecord.type == "count").first()
        assert stored is not None and "car_in" in stored.payload["measurements"]
    assert aggregate(b.store, query) == typed
    assert {(r["object_class"], r["direction"]) for r in typed["counts"]} == {
        ("car", "in"),
        ("motorcycle", "out"),
    }


def test_count_without_line_attribute_uses_its_zone(sqlite_backend: Backend):
    """Lines told apart by ``geometry.zone`` when ``attributes.line`` is absent: line A's
    only interval (900 s) is kept although line B reports a finer one (60 s)."""
    b = sqlite_backend
    a_900 = _count_event(1, 7, 0, interval_s=900)
    b_60 = _count_event(2, 0, 5, interval_s=60)
    for event, zone in ((a_900, "line-a"), (b_60, "line-b")):
        attributes = event.attributes.model_copy(update={"line": None})
        geometry = event.geometry.model_copy(update={"zone": zone})
        b.add_events(event.model_copy(update={"attributes": attributes, "geometry": geometry}))
    counts = aggregate(b.store, OpenDataQuery(start=T0, end=T0 + HOUR, k=1))["counts"]
    assert {(r["object_class"], r["direction"]): r["count"] for r in counts} == {
        ("car", "in"): 7,
        ("motorcycle", "out"): 5,
    }
