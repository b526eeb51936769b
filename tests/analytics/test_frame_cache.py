"""Per-frame quantities shared by the rules give what each rule used to compute alone."""

from __future__ import annotations

import numpy as np
import pytest

from edge.pipeline.analytics import CameraAnalytics
from edge.rules import motion, robust_fit
from edge.rules.kinematics import (
    RIGID_VEHICLE,
    ROAD_JUMPS,
    _jump_args,
    consistent_points,
    is_stationary,
    kept_points,
    recent_boxes,
    recent_points,
    rigid_points,
    road_fit,
    world_speed,
)
from edge.rules.motion import shared_world_speed
from edge.rules.zones import inside
from edge.scene.transform import HomographyTransform
from edge.tracking import ByteTracker, TrackerConfig
from edge.tracking.assignment import FORBIDDEN
from edge.tracking.recovery import (
    RecoveryGate,
    anchor_line,
    expected_anchor,
    recent_history,
    recovery_cost,
)
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


class _AnyTransform:
    """The same homography behind the plain transform protocol (the generic fit path)."""

    def __init__(self, transform: HomographyTransform) -> None:
        self.transform = transform

    def image_to_world(self, points: np.ndarray) -> np.ndarray:
        return self.transform.image_to_world(points)


def test_the_compiled_homography_fit_is_the_fit_of_the_mapped_anchors():
    """A plain homography is applied inside the fit: same speed as mapping the anchors first."""
    analytics, frame = _last_frame()
    transform = HomographyTransform(analytics.scene.calibration)
    tilted = HomographyTransform(
        analytics.scene.calibration.model_copy(
            update={"world_points": [[0, 0], [64, 0], [58, 70], [6, 70]]}  # perspective
        )
    )
    rng = np.random.default_rng(2)
    for plane in (transform, tilted):
        for track in frame.tracks.values():
            for point in list(track.history)[::3]:  # a few boxes slid off the vehicle
                object.__setattr__(point, "y", point.y + float(rng.normal(0, 6)))
            track.windows.clear()
            fast = road_fit(track, plane, 1.0)
            slow = road_fit(track, _AnyTransform(plane), 1.0)
            assert fast is not None and slow is not None
            assert fast.samples == slow.samples
            assert fast.speed == pytest.approx(slow.speed, rel=1e-12)
            assert fast.uncertainty == pytest.approx(slow.uncertainty, rel=1e-9)
    points = np.array([[10.0, 20.0], [600.0, 470.0], [320.5, 0.25]])
    mapped = [robust_fit._perspective(tilted.matrix, x, y) for x, y in points]
    np.testing.assert_array_equal(mapped, tilted.image_to_world(points))  # OpenCV's arithmetic


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
        if robust_fit.smooth(times, xy, ROAD_JUMPS.floor):
            skipped += 1
            assert robust_fit.drop_jumps(times, xy, _jump_args(ROAD_JUMPS)).all()
    assert 0 < skipped < 400  # both paths were exercised


def test_a_lost_tracks_anchor_line_is_fitted_once_and_refitted_on_a_new_point():
    tracker = ByteTracker(TrackerConfig(min_hits=1), NAMES)
    for frame in range(10):
        x = 100 + 3 * frame
        tracker.update(detections([[x, 100, x + 20, 140]]), frame / 10)
    (track,) = tracker.tracks.values()
    line = anchor_line(track, 1.0)
    assert anchor_line(track, 1.0) is line  # lost frames ask again: the same fit
    assert anchor_line(track, 0.5) is not line  # another window, its own fit
    np.testing.assert_allclose(line.velocity, [30.0, 0.0])
    tracker.update(detections([[130, 100, 150, 140]]), 1.0)
    assert anchor_line(track, 1.0) is not line  # a new point: fitted again
    assert len(track.anchor_lines) == 2  # one entry per window length


def _recovery_cost_track_by_track(tracks, boxes, timestamp, gate, compatible):
    """The recovery cost as it was computed before: one track at a time (the reference)."""
    cost = np.full((len(tracks), len(boxes)), FORBIDDEN)
    anchors = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    heights = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0)
    for i, track in enumerate(tracks):
        track_height = max(float(track.box[3] - track.box[1]), 1.0)
        distance = np.hypot(*(anchors - expected_anchor(track, timestamp, gate.window_s)).T)
        radius = gate.radius * np.maximum(heights, track_height)
        ratio = np.maximum(heights, track_height) / np.minimum(heights, track_height)
        ok = (distance <= radius) & (ratio <= gate.max_size_ratio) & compatible[i]
        cost[i, ok] = distance[ok] / radius[ok]
    return cost


def test_recovery_cost_of_all_tracks_at_once_equals_the_track_by_track_cost():
    rng = np.random.default_rng(11)
    gate = RecoveryGate(radius=1.5, window_s=0.5)
    tracker = ByteTracker(TrackerConfig(min_hits=1, recover_radius=0.0), NAMES)
    starts = rng.uniform([50, 50], [550, 400], size=(8, 2))
    speeds = rng.uniform(-8, 8, size=(8, 2))
    sizes = rng.uniform([15, 20], [60, 90], size=(8, 2))
    for frame in range(12):
        corners = starts + frame * speeds + rng.normal(0, 1.0, size=(8, 2))
        tracker.update(detections(np.hstack([corners, corners + sizes]).tolist()), frame / 30)
    tracks = list(tracker.tracks.values())
    corners = starts + 16 * speeds + rng.normal(0, 20.0, size=(8, 2))
    boxes = np.hstack([corners, corners + sizes * rng.uniform(0.4, 2.5, size=(8, 1))])
    compatible = rng.random((len(tracks), len(boxes))) > 0.2
    expected = _recovery_cost_track_by_track(tracks, boxes, 16 / 30, gate, compatible)
    cost = recovery_cost(tracks, boxes, 16 / 30, gate, compatible)
    np.testing.assert_array_equal(cost < FORBIDDEN, expected < FORBIDDEN)
    np.testing.assert_allclose(cost, expected, rtol=1e-12)
    assert 0 < int((cost < FORBIDDEN).sum()) < cost.size  # inside and outside the gate both occur


def _stationary_by_spread(track, window_s, max_move_fraction):
    """``is_stationary`` without its shortcut: the spread of every window (the reference)."""
    times, xy = recent_points(track, window_s)
    if len(times) < 2 or times[-1] - times[0] < 0.5 * window_s:
        return False
    height = float(track.box[3] - track.box[1]) or 1.0
    return float(np.max(np.hypot(*(xy - xy.mean(axis=0)).T))) <= max_move_fraction * height


def test_stationary_shortcut_for_moving_vehicles_gives_the_spread_verdict():
    rng = np.random.default_rng(5)
    verdicts = []
    for trial in range(300):
        tracker = ByteTracker(TrackerConfig(min_hits=1), NAMES)
        speed = rng.choice([0.0, 0.5, 2.0, 8.0]) * rng.uniform(-1, 1, size=2)
        for frame in range(int(rng.integers(2, 40))):
            x, y = np.array([200.0, 200.0]) + frame * speed + rng.normal(0, 1.5, size=2)
            tracker.update(detections([[x, y, x + 30, y + 40]]), frame / 30)
        (track,) = tracker.tracks.values()
        for window in (0.5, 1.0, 2.0):
            verdict = is_stationary(track, window, 0.3)
            assert verdict == _stationary_by_spread(track, window, 0.3), trial
            verdicts.append(verdict)
    assert any(verdicts) and not all(verdicts)


def test_a_window_slid_on_by_one_point_is_the_window_built_from_the_history():
    rng = np.random.default_rng(9)
    for trial in range(60):
        tracker = ByteTracker(TrackerConfig(min_hits=1, history_length=12), NAMES)
        windows = (0.1, 0.3, 1.0)
        t = 0.0
        for frame in range(40):
            t += float(rng.choice([1 / 30, 0.1, 0.25]))  # steps that cross window edges
            x = 100 + 2 * frame
            tracker.update(detections([[x, 100, x + 20, 140 + frame % 3]]), t)
            (track,) = tracker.tracks.values()
            for window in windows:
                if rng.random() < 0.2:
                    continue  # a frame without this window: the next one is built afresh
                times, xy, heights = recent_boxes(track, window)
                points = recent_history(track, window)
                np.testing.assert_array_equal(times, [p.timestamp for p in points])
                np.testing.assert_array_equal(xy, [[p.x, p.y] for p in points])
                np.testing.assert_array_equal(heights, [p.height for p in points])
                assert not xy.flags.writeable, trial


def _kept_by_index(times, xy, sizes):
    """``kept_points`` through its general (indexed) path: the reference for the fast one."""
    keep = np.isfinite(xy).all(axis=1)
    if int(keep.sum()) < 3:
        return keep
    index = np.flatnonzero(keep)
    index = index[consistent_points(times[index], xy[index], ROAD_JUMPS)]
    index = index[rigid_points(sizes[index], RIGID_VEHICLE)]
    keep[:] = False
    keep[index] = True
    return keep


def test_kept_points_of_a_finite_window_are_those_of_the_general_path():
    rng = np.random.default_rng(13)
    dropped = 0
    for trial in range(400):
        count = int(rng.integers(1, 40))
        times = np.cumsum(rng.uniform(0.02, 0.12, size=count))
        xy = times[:, None] * rng.uniform(-15, 15, size=2) + rng.normal(0, 0.1, (count, 2))
        sizes = rng.uniform(1.4, 1.6, size=count)
        if trial % 3 == 0:  # an id switch
            xy[count // 2 :] += rng.uniform(-6, 6, size=2)
        if trial % 4 == 0 and count > 5:  # a sliding bottom edge, and an unknown height
            sizes[rng.integers(0, count, size=2)] *= 1.5
            sizes[rng.integers(0, count)] = np.nan
        expected = _kept_by_index(times, xy, sizes)
        np.testing.assert_array_equal(kept_points(times, xy, sizes=sizes), expected, str(trial))
        dropped += int(not expected.all())
    assert 0 < dropped < 400
