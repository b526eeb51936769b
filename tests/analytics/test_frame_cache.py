"""Per-frame quantities shared by the rules give what each rule used to compute alone."""

from __future__ import annotations

import numpy as np

from edge.pipeline.analytics import CameraAnalytics
from edge.rules import motion
from edge.rules.kinematics import (
    ROAD_JUMPS,
    _drop_jumps,
    _smooth,
    recent_boxes,
    road_fit,
    world_speed,
)
from edge.rules.motion import shared_world_speed
from edge.rules.zones import inside
from edge.scene.transform import HomographyTransform
from edge.tracking import ByteTracker, TrackerConfig
from edge.tracking.recovery import recent_history
from tests.analytics.factories import NAMES, PERSON, Path, detections, play, scene

LEFT = {"name": "left", "kind": "carriageway", "polygon": [[0, 0], [320, 0], [320, 480], [0, 480]]}
RIGHT = {"name": "right", "kind": "other", "polygon": [[300, 0], [640, 0], [640, 480], [300, 480]]}
CALIBRATION = {
    "image_points": [[0, 0], [640, 0], [640, 480], [0, 480]],
    "world_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
    "error_m": 0.2,
}
PATHS = [
    Path([(0, 100, 400), (2, 110, 100)]),  # car on the left
    Path([(0, 500, 100), (2, 480, 400)]),  # car on the right
    Path([(0, 310, 300), (2, 312, 300)]),  # car standing where the zones overlap
    Path([(0, 200, 200), (2, 400, 220)], w=20, h=50, class_id=PERSON),  # person crossing
]


def _last_frame():
    analytics = CameraAnalytics(
        scene(zones=[LEFT, RIGHT], calibration=CALIBRATION, rules={"zone_occupancy": {}}),
        NAMES,
    )
    play(analytics, PATHS, 1.5, finish=False)
    assert analytics._last is not None
    return analytics, analytics._last


def test_zone_membership_matches_each_rule_testing_its_own_anchors():
    analytics, frame = _last_frame()
    assert len(frame.tracked()) == 4
    for classes in (None, ["car"], ["person"], ["car", "person"], []):
        tracked = frame.tracked(classes)
        if classes is not None:
            assert frame.tracked(list(reversed(classes))) is tracked  # shared, order-free
        np.testing.assert_array_equal(frame.anchors(classes), tracked.bottom_center)
        for zone in analytics.scene.zones:
            expected = inside(zone, tracked.bottom_center)
            np.testing.assert_array_equal(frame.in_polygon(zone.polygon, classes), expected)
    left, right = (zone.polygon for zone in analytics.scene.zones)
    both = frame.in_polygon(left) & frame.in_polygon(right)
    assert frame.tracked()[both].bottom_center[:, 0].round().tolist() == [311.0]  # standing car
    assert not frame.in_polygon(left, ["person"]).any()  # the person has crossed to the right


def test_shared_world_speed_is_world_speed_computed_once_per_frame(monkeypatch):
    analytics, frame = _last_frame()
    transform = HomographyTransform(analytics.scene.calibration)
    fits = []

    def counted(*args, **kwargs):
        fits.append(args)
        return road_fit(*args, **kwargs)

    monkeypatch.setattr(motion, "road_fit", counted)
    for track in frame.tracks.values():
        first = shared_world_speed(frame, track, transform, 1.0, 0.2, min_span_s=0.6)
        again = shared_world_speed(frame, track, transform, 1.0, 0.2, min_span_s=0.6)
        alone = world_speed(track, transform, 1.0, 0.2, min_span_s=0.6)
        assert again == first
        assert alone == first and first is not None
        other = shared_world_speed(frame, track, transform, 1.0, 0.0)
        assert other == world_speed(track, transform, 1.0, 0.0)
        assert other is not None and other.uncertainty < first.uncertainty
        # A rule's calibration error and minimum span are applied to the one shared fit.
        assert shared_world_speed(frame, track, transform, 1.0, 0.2, min_span_s=99.0) is None
    assert len(fits) == len(frame.tracks)
    shared_world_speed(frame, track, transform, 1.0, 0.2, bottom_px=479.0)
    assert len(fits) == len(frame.tracks) + 1  # other anchors kept: a fit of its own


def test_recent_history_is_the_window_of_the_history():
    tracker = ByteTracker(TrackerConfig(min_hits=1, history_length=20), NAMES)
    for frame in range(30):
        x = 100 + 2 * frame
        tracker.update(detections([[x, 100, x + 20, 140]]), frame / 10)
    (track,) = tracker.tracks.values()
    newest = track.history[-1].timestamp
    for window in (0.0, 0.35, 1.0, 5.0):
        expected = [p for p in track.history if newest - p.timestamp <= window]
        assert recent_history(track, window) == expected
    assert len(recent_history(track, 5.0)) == 20  # bounded by the history itself


def test_window_arrays_are_made_once_per_new_point_and_are_read_only():
    tracker = ByteTracker(TrackerConfig(min_hits=1, history_length=20), NAMES)
    for frame in range(5):
        tracker.update(detections([[100 + frame, 100, 120 + frame, 140]]), frame / 10)
    (track,) = tracker.tracks.values()
    times, xy, heights = recent_boxes(track, 1.0)
    assert recent_boxes(track, 1.0)[1] is xy  # another rule, same frame: the same arrays
    assert recent_boxes(track, 0.2)[1] is not xy  # another window length
    assert not xy.flags.writeable and not times.flags.writeable
    np.testing.assert_array_equal(heights, [40.0] * 5)
    tracker.update(detections([[110, 100, 130, 140]]), 0.5)
    newer_times, newer_xy, _ = recent_boxes(track, 1.0)
    assert newer_xy is not xy and newer_times[-1] == 0.5  # a new point: a new window
    assert len(track.windows) == 2  # one entry per window length, whatever the frame count


def test_smooth_windows_skip_the_jump_filter_only_when_it_would_keep_every_anchor():
    rng = np.random.default_rng(7)
    skipped = 0
    for trial in range(400):
        count = int(rng.integers(3, 40))
        dt = rng.choice([1 / 30, 1 / 10, 0.2], size=count) * rng.uniform(0.5, 1.5, size=count)
        times = np.cumsum(dt)
        velocity = rng.uniform(-15, 15, size=2)
        xy = times[:, None] * velocity + rng.normal(0, rng.choice([0.01, 0.1, 0.5]), (count, 2))
        if trial % 4 == 0:  # an id switch: the anchors jump
            xy[count // 2 :] += rng.uniform(-5, 5, size=2)
        if _smooth(times, xy, ROAD_JUMPS.floor):
            skipped += 1
            assert _drop_jumps(times, xy, ROAD_JUMPS).all()
    assert 0 < skipped < 400  # both paths were exercised
