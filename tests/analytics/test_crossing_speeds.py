"""Speeds of every vehicle crossing a counting line, in the line's per-interval count events."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pipeline.analytics import CameraAnalytics
from edge.rules.crossing import SpeedSamples
from tests.analytics.factories import NAMES, PERSON, Path, play, scene
from traffic_monitor.contract import EventType

LINE = {"name": "L1", "start": [0, 200], "end": [640, 200], "positive": "left"}
# 10 px = 1 m: image (x, y) -> world (x / 10, y / 10).
CALIBRATION = {
    "image_points": [[0, 0], [640, 0], [640, 480], [0, 480]],
    "world_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
    "error_m": 0.2,
}
SPEED_KEYS = {"speed_samples", "speed_mean_kmh", "speed_p85_kmh"}


def analytics(calibrated: bool = True, line=LINE, **params) -> CameraAnalytics:
    rule = {"intervals_s": [60], **params}
    sections = {"lines": [line], "rules": {"line_crossing": rule}}
    if calibrated:
        sections["calibration"] = CALIBRATION
    return CameraAnalytics(scene(**sections), NAMES)


def drive(x: float, kmh: float, start: float = 0.0, up: bool = True, **box) -> Path:
    """A road user at constant ``kmh`` across the whole frame (45 m), through the line."""
    duration = 45.0 / (kmh / 3.6)
    ends = [(start, x, 470.0), (start + duration, x, 20.0)]
    if not up:
        ends = [(start, x, 20.0), (start + duration, x, 470.0)]
    return Path(ends, **box)


def counts(events):
    return [e for e in events if e.type == EventType.COUNT]


def test_count_event_carries_mean_and_p85_of_every_crossing_vehicle():
    speeds = [25.0, 35.0, 45.0, 55.0, 65.0]  # slow ones too: not only speeders
    paths = [drive(60 + 110 * i, kmh, up=i % 2 == 0) for i, kmh in enumerate(speeds)]
    events = counts(play(analytics(), paths, 8))
    assert len(events) == 1
    measured = events[0].measurements
    assert measured["count"] == 5
    assert measured["speed_samples"] == 5
    assert measured["speed_mean_kmh"] == pytest.approx(np.mean(speeds), abs=0.5)
    assert measured["speed_p85_kmh"] == pytest.approx(np.percentile(speeds, 85), abs=0.5)


def test_speeds_stay_close_under_box_jitter():
    speeds = [30.0, 50.0, 70.0]
    paths = [drive(100 + 200 * i, kmh) for i, kmh in enumerate(speeds)]
    measured = counts(play(analytics(), paths, 8, jitter=2.0, seed=3))[0].measurements
    assert measured["speed_samples"] == 3
    assert measured["speed_mean_kmh"] == pytest.approx(50.0, abs=3)


def test_each_interval_holds_only_its_own_crossings():
    a = analytics(intervals_s=[4])
    slow = drive(100, 30.0)  # crosses at 3.24 s: first interval
    fast = drive(400, 60.0, start=4.5)  # crosses at 6.1 s: second interval
    events = counts(play(a, [slow, fast], 9))
    with_speed = [e.measurements for e in events if "speed_samples" in e.measurements]
    assert [m["speed_samples"] for m in with_speed] == [1, 1]
    assert [m["speed_mean_kmh"] for m in with_speed] == pytest.approx([30.0, 60.0], abs=0.5)
    assert [m["speed_p85_kmh"] for m in with_speed] == pytest.approx([30.0, 60.0], abs=0.5)
    rule = a.rules[0]
    open_buckets = rule.lines[0].buckets.values()  # type: ignore[attr-defined]
    assert not any(buckets for buckets in open_buckets)  # every bucket emitted and dropped


def test_no_speeds_without_calibration_or_when_switched_off():
    paths = [drive(100, 40.0)]
    for a in (analytics(calibrated=False), analytics(measure_speed=False)):
        measured = counts(play(a, paths, 6))[0].measurements
        assert measured["count"] == 1
        assert not SPEED_KEYS & set(measured.keys())


def test_implausible_speeds_pedestrians_and_short_tracks_are_not_sampled():
    # A line that counts pedestrians too (lines count vehicles unless they list "person").
    a = analytics(max_plausible_kmh=50, line={**LINE, "classes": ["car", "person"]})
    paths = [
        drive(60, 40.0),  # sampled
        drive(180, 70.0),  # counted, above the plausible limit: not sampled
        drive(300, 5.0, w=14, h=40, class_id=PERSON),  # counted, not a motor vehicle
        Path([(0, 420, 230), (0.4, 420, 170)]),  # first seen just before the line
    ]
    measured = counts(play(a, paths, 34))[0].measurements
    assert measured["count"] == 4
    assert measured["speed_samples"] == 1
    assert measured["speed_mean_kmh"] == pytest.approx(40.0, abs=0.5)


def test_speed_samples_are_bounded_with_exact_count_and_mean():
    samples = SpeedSamples(capacity=100)
    values = np.linspace(0.0, 100.0, 10_001)
    for value in values:
        samples.add(float(value))
    assert len(samples.kept) == 100
    out = samples.measurements()
    assert out["speed_samples"] == 10_001
    assert out["speed_mean_kmh"] == pytest.approx(50.0)
    assert out["speed_p85_kmh"] == pytest.approx(85.0, abs=8)
    assert SpeedSamples().measurements() == {}
