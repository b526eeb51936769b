"""Speed fit robust to what broke it on the rig's oblique camera: id switches, swallowed
neighbours, boxes cut by the frame; and the rig comparing each estimate with the right car."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt
import pytest

from benchmarks.speed_rig.measure import TrackLog, window_owner
from benchmarks.speed_rig.scenes import OBLIQUE_MOUNT
from edge.rules import robust_fit
from edge.rules.kinematics import (
    RIGID_VEHICLE,
    ROAD_JUMPS,
    box_at_frame_edge,
    consistent_points,
    fit_speed,
    rigid_points,
    robust_speed,
    world_speed,
)
from edge.tracking.kalman import BoxKalman, KalmanNoise
from edge.tracking.track import Track, TrackPoint

FPS = 30.0
Array = npt.NDArray[np.float64]


def _line(
    t0: float, t1: float, start: tuple[float, float], velocity: tuple[float, float]
) -> tuple[Array, Array]:
    times = np.arange(round((t1 - t0) * FPS) + 1) / FPS + t0
    xy = np.asarray(start) + np.outer(times - t0, velocity)
    return times, xy


def test_id_switch_inside_the_window_is_cut_off() -> None:
    # as on the oblique camera: the track follows a car going away at 30 km/h, is lost for
    # 0.57 s and is re-associated with an oncoming car at 80 km/h 8 m away
    t_a, xy_a = _line(2.87, 3.27, (0.2, 36.0), (0.0, 8.33))
    t_b, xy_b = _line(3.83, 4.27, (-3.1, 30.3), (0.0, -22.2))
    times, xy = np.r_[t_a, t_b], np.r_[xy_a, xy_b]
    plain = fit_speed(times, xy, 0.0)
    assert plain is not None and abs(plain.speed - 22.2) > 5  # what the old fit reported
    estimate = robust_speed(times, xy, 0.0, ROAD_JUMPS)
    assert estimate is not None
    assert estimate.speed == pytest.approx(22.2, abs=0.05)
    assert estimate.samples == len(t_b)


def test_id_switch_without_a_gap_is_cut_off() -> None:
    t_a, xy_a = _line(0.0, 0.5, (4.0, 26.0), (0.0, 18.0))
    t_b, xy_b = _line(0.5 + 1 / FPS, 1.0, (0.2, 33.2), (0.0, 8.3))
    times, xy = np.r_[t_a, t_b], np.r_[xy_a, xy_b]
    estimate = robust_speed(times, xy, 0.0, ROAD_JUMPS)
    assert estimate is not None
    assert estimate.speed == pytest.approx(8.3, abs=0.05)


def test_a_few_frames_of_a_swallowed_neighbour_are_dropped_not_cut() -> None:
    times, xy = _line(0.0, 1.0, (0.5, 20.0), (0.0, 18.0))
    xy[12:15, 1] -= 3.0  # the box's bottom edge on the car in front for three frames
    keep = consistent_points(times, xy, ROAD_JUMPS)
    assert np.flatnonzero(~keep).tolist() == [12, 13, 14]
    estimate = robust_speed(times, xy, 0.0, ROAD_JUMPS, min_span_s=0.9)
    assert estimate is not None
    assert estimate.speed == pytest.approx(18.0, abs=0.01)


def test_noisy_far_track_is_not_cut() -> None:
    # far away on the overpass camera a pixel of box jitter is about half a metre
    rng = np.random.default_rng(3)
    times, xy = _line(0.0, 1.0, (0.5, 55.0), (0.0, 20.0))
    xy = xy + rng.normal(0.0, 0.5, xy.shape)
    assert consistent_points(times, xy, ROAD_JUMPS).all()
    robust = robust_speed(times, xy, 0.0, ROAD_JUMPS)
    plain = fit_speed(times, xy, 0.0)
    assert robust is not None and plain is not None
    assert robust.speed == plain.speed


def test_too_short_a_consistent_span_gives_no_speed() -> None:
    t_a, xy_a = _line(0.0, 0.7, (4.0, 26.0), (0.0, 18.0))
    t_b, xy_b = _line(0.7 + 1 / FPS, 1.0, (0.2, 36.0), (0.0, 8.3))
    times, xy = np.r_[t_a, t_b], np.r_[xy_a, xy_b]
    assert robust_speed(times, xy, 0.0, ROAD_JUMPS, min_span_s=0.6) is None
    assert robust_speed(times, xy, 0.0, None, min_span_s=0.6) is not None


class _Metres:
    """Pixels are decimetres on the road."""

    def image_to_world(self, points: npt.ArrayLike) -> Array:
        return np.asarray(points, dtype=np.float64) / 10.0


def _track(points: list[tuple[float, float, float]]) -> Track:
    box = np.array([0.0, 0.0, 10.0, 10.0])
    track = Track(
        track_id=1,
        kalman=BoxKalman(np.array([5.0, 5.0, 10.0, 10.0]), KalmanNoise()),
        first_seen=points[0][0],
        last_seen=points[-1][0],
        last_predicted=points[-1][0],
        box=box,
        confidence=0.9,
        history=deque(TrackPoint(t, x, y) for t, x, y in points),
    )
    return track


def test_world_speed_rejects_an_id_switch_and_anchors_on_the_frame_bottom() -> None:
    times, xy = _line(0.0, 1.0, (100.0, 300.0), (0.0, 150.0))  # 15 m/s in decimetres
    xy[:10] += (40.0, -60.0)  # the first third belonged to another car
    track = _track([(t, x, y) for t, (x, y) in zip(times, xy, strict=True)])
    estimate = world_speed(track, _Metres(), 1.0, 0.0, min_span_s=0.6)
    assert estimate is not None
    assert estimate.speed == pytest.approx(15.0, abs=1e-6)
    plain = world_speed(track, _Metres(), 1.0, 0.0, jumps=None)
    assert plain is not None and abs(plain.speed - 15.0) > 2.0
    # every anchor from y = 390 px on is on a box cut by the bottom of a 400-row frame
    kept = world_speed(track, _Metres(), 1.0, 0.0, bottom_px=390.0)
    assert kept is not None and kept.samples == int(np.sum(xy[10:, 1] < 390.0))


@pytest.mark.parametrize(
    ("box", "cut"),
    [
        ((100, 100, 200, 200), False),
        ((0, 100, 50, 200), True),
        ((800, 100, 851, 200), True),
        ((100, 400, 200, 477), True),
        ((100, 400, 200, 475), False),
        ((100, 0, 200, 100), False),  # the top edge does not move the bottom anchor
    ],
)
def test_box_at_frame_edge(box: tuple[int, int, int, int], cut: bool) -> None:
    assert box_at_frame_edge(box, (854, 480)) is cut


def test_rig_compares_an_estimate_with_the_car_of_the_fitted_anchors() -> None:
    # the track's majority car (0) is not the car it followed in this window (3)
    log = TrackLog(
        times=[i / FPS for i in range(60)],
        vehicles=[0] * 35 + [None] * 5 + [3] * 20,
    )
    assert window_owner(log, np.arange(40, 60) / FPS) == 3
    assert window_owner(log, np.arange(30, 60) / FPS) == 3
    assert window_owner(log, np.arange(10, 40) / FPS) == 0
    assert window_owner(log, np.arange(36, 40) / FPS) is None
    # two cars overlapping in the image: the box matches the other one now and then
    flicker = TrackLog(times=[i / FPS for i in range(30)], vehicles=[0] * 24 + [4, 0] * 3)
    assert window_owner(flicker, np.arange(30) / FPS) == 0


def test_speeding_rule_measures_no_box_cut_by_the_frame() -> None:
    from edge.pipeline.analytics import CameraAnalytics
    from tests.analytics.factories import NAMES, Path, play, scene
    from traffic_monitor.contract import EventType

    # 10 px = 1 m; a car along the bottom edge at 108 km/h: its box is cut by the frame
    calibration = {
        "image_points": [[0, 0], [640, 0], [640, 480], [0, 480]],
        "world_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
        "error_m": 0.2,
    }
    zone = {
        "name": "road",
        "kind": "carriageway",
        "polygon": [[0, 0], [640, 0], [640, 480], [0, 480]],
        "speed_limit": {"default": 50},
    }
    along_bottom = Path([(0, 20, 479.5), (2, 620, 479.5)])
    frame = np.zeros((480, 640, 3), dtype=np.uint8)

    def speeding(image: npt.NDArray[np.uint8] | None) -> int:
        sections = {"zones": [zone], "calibration": calibration, "rules": {"speeding": {}}}
        analytics = CameraAnalytics(scene(**sections), NAMES)
        events = play(analytics, [along_bottom], 2, image=image)
        return sum(e.type == EventType.SPEEDING for e in events)

    assert speeding(None) > 0  # without the frame the rule cannot tell
    assert speeding(frame) == 0


def _face_track(drift_px: Array) -> tuple[Track, float]:
    """A car going away at 12 m/s on the oblique rig camera, its box's bottom edge off by
    ``drift_px`` per frame (the top edge follows the car)."""
    mount = OBLIQUE_MOUNT
    times = np.arange(31) / FPS
    ground = np.c_[np.full(31, 0.5), 25.0 + 12.0 * times, np.zeros(31)]
    roof = ground + np.array([0.0, 0.0, 1.5])
    bottom, top = mount.project(ground), mount.project(roof)
    points = [
        TrackPoint(float(t), float(b[0]), float(b[1] + d), float(r[1]))
        for t, b, r, d in zip(times, bottom, top, drift_px, strict=True)
    ]
    track = _track([(p.timestamp, p.x, p.y) for p in points])
    track.history = deque(points)
    return track, float(np.mean(bottom[1:, 1] - bottom[:-1, 1]))


def test_a_bottom_edge_sliding_off_the_car_is_left_out() -> None:
    # as on the oblique camera near row 200: over the last eight frames of the window the
    # box's bottom edge slides onto the road (down, towards the camera) by 2 px a frame while
    # the car and the top edge go on
    drift = np.zeros(31)
    drift[-8:] = 2.0 * np.arange(1, 9)
    track, step_px = _face_track(drift)
    assert abs(step_px) < 3.0  # a gradual drift: no step is a jump
    model = OBLIQUE_MOUNT.camera_model()
    plain = world_speed(track, model, 1.0, 0.0, rigid=None)
    assert plain is not None and abs(plain.speed - 12.0) * 3.6 > 5.0  # what the rig measured
    estimate = world_speed(track, model, 1.0, 0.0)
    assert estimate is not None
    assert abs(estimate.speed - 12.0) * 3.6 < 1.5
    assert estimate.samples == 25  # the frames drifted by 6 px (12 % of the box) or more


def test_a_rigid_car_keeps_every_anchor() -> None:
    rng = np.random.default_rng(5)
    track, _ = _face_track(rng.normal(0.0, 0.7, 31))  # pixel jitter of the bottom edge
    estimate = world_speed(track, OBLIQUE_MOUNT.camera_model(), 1.0, 0.0)
    assert estimate is not None and estimate.samples == 31
    assert estimate.speed == pytest.approx(12.0, abs=0.5)


def test_rigid_check_keeps_anchors_of_unknown_height() -> None:
    sizes = np.array([1.5, np.nan, 1.52, 1.49, 2.2, 1.51, np.nan, 1.5])
    keep = rigid_points(sizes, RIGID_VEHICLE)
    assert np.flatnonzero(~keep).tolist() == [4]
    assert rigid_points(sizes[:4], RIGID_VEHICLE).all()  # too few heights to judge


@pytest.mark.parametrize("count", [0, 1, 2, 3, 5, 8, 9, 24, 61])
def test_neighbour_medians_are_numpy_medians_of_the_neighbours(count: int) -> None:
    """The compiled neighbour medians equal ``np.median`` of each row's neighbours."""
    rng = np.random.default_rng(count)
    for neighbours in (1, 4):
        rates = rng.normal(size=(count, 2))
        got = robust_fit.neighbour_medians(rates, neighbours)
        for row in range(count):
            around = [i for i in range(row - neighbours, row + neighbours + 1) if i != row]
            around = [i for i in around if 0 <= i < count]
            expected = np.median(rates[around], axis=0) if around else rates[row]
            np.testing.assert_array_equal(got[row], expected)
        values = rng.normal(size=count + 1)
        assert robust_fit.median(values) == np.median(values)
