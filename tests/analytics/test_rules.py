"""Each rule with synthetic tracks: jitter on a line, U-turn, occlusion, stop and drive off."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.pipeline.analytics import CameraAnalytics
from tests.analytics.factories import (
    CAR,
    MOTORCYCLE,
    NAMES,
    PERSON,
    TRUCK,
    Path,
    next_track_id,
    play,
    scene,
)
from traffic_monitor.contract import ClassCount, Direction, EventPhase, EventType
from traffic_monitor.errors import UserFacingError

LINE = {"name": "L1", "start": [0, 200], "end": [640, 200], "positive": "left"}
ROAD = {"name": "road", "kind": "carriageway", "polygon": [[0, 0], [640, 0], [640, 480], [0, 480]]}


def analytics(**sections):
    return CameraAnalytics(scene(**sections), NAMES)


def of(events, type_, phase=None):
    return [e for e in events if e.type == type_ and (phase is None or e.phase == phase)]


# ---- line crossing ---------------------------------------------------------------------------


def test_counts_per_direction_and_class():
    a = analytics(lines=[LINE], rules={"line_crossing": {"intervals_s": [1]}})
    paths = [
        Path([(0, 100, 400), (3, 100, 50)]),  # up: crosses to the left of start→end: 'in'
        Path([(0, 300, 50), (3, 300, 400)]),  # down: 'out'
        Path([(0, 500, 420), (3, 520, 60)], w=20, h=40, class_id=MOTORCYCLE),
    ]
    events = play(a, paths, 4)
    rule = a.rules[0]
    assert rule.totals["L1"] == {("car", "in"): 1, ("car", "out"): 1, ("motorcycle", "in"): 1}
    counts = of(events, EventType.COUNT)
    assert sum(e.measurements["count"] for e in counts) == 3
    assert {e.attributes["interval_s"] for e in counts} == {1}
    motorcycle_in = ClassCount(object_class="motorcycle", direction=Direction.IN, count=1)
    assert any(motorcycle_in in e.measurements["classes"] for e in counts)


def test_jitter_on_the_line_counts_once():
    a = analytics(lines=[LINE], rules={"line_crossing": {}})
    # Drives up to the line, stands on it for 3 s with 3 px jitter, then continues across.
    path = Path([(0, 320, 400), (2, 320, 201), (5, 320, 199), (7, 320, 20)])
    play(a, [path], 7, jitter=3.0, seed=3)
    assert a.rules[0].totals["L1"] == {("car", "in"): 1}


def test_u_turn_counts_one_each_way_and_occlusion_does_not_lose_the_crossing():
    a = analytics(lines=[LINE], rules={"line_crossing": {}})
    u_turn = Path([(0, 100, 300), (2, 100, 120), (3, 140, 100), (5, 160, 300)])
    occluded = Path([(0, 400, 350), (3, 400, 50)])  # hidden while crossing the line
    play(a, [u_turn, occluded], 5, hide=lambda k, t: k == 1 and 1.2 < t < 1.8)
    assert a.rules[0].totals["L1"] == {("car", "in"): 2, ("car", "out"): 1}


def test_count_line_outside_segment_is_not_counted():
    short = {**LINE, "end": [200, 200]}
    a = analytics(lines=[short], rules={"line_crossing": {}})
    play(a, [Path([(0, 400, 400), (3, 400, 50)])], 3)
    assert sum(a.rules[0].totals["L1"].values()) == 0


@pytest.mark.parametrize(("extrapolate_s", "counted"), [(0.5, 1), (0.0, 0)])
def test_a_track_lost_just_before_the_line_is_counted_by_its_motion(extrapolate_s, counted):
    a = analytics(lines=[LINE], rules={"line_crossing": {"extrapolate_s": extrapolate_s}})
    car = Path([(0, 320, 420), (3, 320, 60)])  # up at 120 px/s; the line is at y = 200
    events = play(a, [car], 5, hide=lambda k, t: t > 1.75)  # last seen 10 px before it
    assert sum(a.rules[0].totals["L1"].values()) == counted
    minute = [e for e in of(events, EventType.COUNT) if e.attributes["interval_s"] == 60]
    assert sum(e.measurements["count"] for e in minute) == counted


def test_a_lost_track_that_was_stopping_is_not_extrapolated():
    a = analytics(lines=[LINE], rules={"line_crossing": {}})
    # Brakes from 120 px/s to a stop 10 px before the line, waits, then is lost.
    car = Path([(0, 320, 420), (1.5, 320, 240), (2.2, 320, 212), (2.6, 320, 210), (6, 320, 210)])
    play(a, [car], 8, hide=lambda k, t: t > 4)
    assert sum(a.rules[0].totals["L1"].values()) == 0


def test_a_fragmented_track_is_not_counted_twice():
    # The detector calls the car a truck from 1.8 s on; with separate class groups the
    # tracker starts a new track before the line, which crosses; the old track is lost
    # heading for the line and must not be counted on top.
    a = CameraAnalytics(
        scene(
            lines=[LINE],
            tracker={"class_groups": [["car"], ["truck"]], "cross_group_shape_ratio": 0},
            rules={"line_crossing": {}},
        ),
        NAMES,
    )
    as_car = Path([(0, 320, 420), (1.75, 320, 210)])
    as_truck = Path([(1.8, 320, 204), (3, 320, 60)], class_id=TRUCK)
    play(a, [as_car, as_truck], 5)
    assert next_track_id(a) == 3  # two tracks
    assert sum(a.rules[0].totals["L1"].values()) == 1  # type: ignore[attr-defined]


# ---- zone occupancy, illegal stop, stopped vehicle -----------------------------------------

NO_STOP = {
    "name": "ns",
    "kind": "no_stopping",
    "polygon": [[200, 100], [440, 100], [440, 400], [200, 400]],
}


def test_illegal_stop_lifecycle_stop_then_drive_off():
    a = analytics(
        zones=[NO_STOP], rules={"illegal_stop": {"on_s": 3, "off_s": 1, "update_interval_s": 2}}
    )
    path = Path([(0, 320, 470), (1, 320, 300), (7, 320, 300), (8, 320, 10)])
    events = of(play(a, [path], 9, jitter=2.0), EventType.ILLEGAL_STOP)
    phases = [e.phase for e in events]
    assert phases[0] == EventPhase.START and phases[-1] == EventPhase.END
    assert EventPhase.UPDATE in phases
    assert len({e.attributes["incident_id"] for e in events}) == 1
    start = events[0]
    assert start.geometry.zone == "ns" and start.object_class == "car"
    assert 3.5 < (start.time.timestamp() - 1.7e9) < 5.0  # stopped at 1 s + 3 s allowed
    assert events[-1].measurements["duration_s"] > 2.0


def test_illegal_stop_ignores_moving_and_short_stops():
    a = analytics(zones=[NO_STOP], rules={"illegal_stop": {"on_s": 3}})
    paths = [
        Path([(0, 250, 470), (6, 250, 10)]),
        Path([(0, 380, 470), (1, 380, 300), (2.5, 380, 300), (3.5, 380, 10)]),
    ]
    assert of(play(a, paths, 6), EventType.ILLEGAL_STOP) == []


def test_stopped_vehicle_on_carriageway_but_not_in_stop_zone():
    stop_zone = {
        "name": "wait",
        "kind": "stop_zone",
        "polygon": [[0, 0], [640, 0], [640, 150], [0, 150]],
    }
    a = analytics(zones=[ROAD, stop_zone], rules={"stopped_vehicle": {"on_s": 2, "off_s": 0.5}})
    broken = Path([(0, 100, 470), (1, 100, 300), (5, 100, 300), (6, 100, 200)])
    waiting = Path([(0, 400, 470), (1, 400, 100), (6, 400, 100)])
    events = of(play(a, [broken, waiting], 7), EventType.STOPPED_VEHICLE)
    assert [e.phase for e in events] == [EventPhase.START, EventPhase.END]
    assert {e.track_id for e in events} == {events[0].track_id}


def test_zone_occupancy_reports_count_and_dwell():
    a = analytics(zones=[NO_STOP], rules={"zone_occupancy": {"report_interval_s": 2}})
    path = Path([(0, 320, 300), (5, 320, 300)])
    events = of(play(a, [path], 5), EventType.ZONE_OCCUPANCY)
    assert events and events[-1].measurements["count"] == 1
    assert events[-1].measurements["max_dwell_s"] >= 3.5


def test_ended_tracks_end_incidents():
    a = analytics(zones=[NO_STOP], rules={"illegal_stop": {"on_s": 1}})
    path = Path([(0, 320, 300), (3, 320, 300)])  # then disappears for good
    events = of(play(a, [path], 6, finish=False), EventType.ILLEGAL_STOP)
    assert [e.phase for e in events] == [EventPhase.START, EventPhase.END]
    assert a.rules[0].state_size() == 0
    start, end = events
    # the end is built from the last sighting (where the car stood), at the time it ended
    assert end.geometry.point == pytest.approx((320, 300), abs=4)
    assert end.geometry.zone == "ns" and end.track_id == start.track_id
    seconds = end.time.timestamp() - start.time.timestamp()
    assert seconds > 2.0 and end.measurements["duration_s"] == pytest.approx(seconds, abs=1e-3)


# ---- wrong way ------------------------------------------------------------------------------

LANE = {
    "name": "north",
    "polygon": [[0, 0], [640, 0], [640, 480], [0, 480]],
    "direction": [[320, 400], [320, 100]],
}


def test_wrong_way_flags_sustained_reverse_motion():
    a = analytics(lanes=[LANE], rules={"wrong_way": {"on_s": 1}})
    paths = [Path([(0, 200, 60), (4, 200, 460)]), Path([(0, 400, 460), (4, 400, 60)])]
    events = of(play(a, paths, 4, jitter=2.0), EventType.WRONG_WAY)
    assert events[0].phase == EventPhase.START
    assert {e.track_id for e in events} == {events[0].track_id}
    assert events[0].geometry.point[0] == pytest.approx(200, abs=4)


def test_wrong_way_ignores_turns_jitter_and_standing():
    a = analytics(lanes=[LANE], rules={"wrong_way": {"on_s": 1}})
    paths = [
        Path([(0, 100, 400), (2, 100, 250), (4, 500, 250)]),  # right turn: 90 degrees off
        Path([(0, 300, 300), (4, 300, 300)]),  # standing, jitter only
        Path([(0, 500, 450), (1.5, 500, 300), (2.0, 540, 280), (2.4, 560, 310)]),  # brief U-turn
    ]
    assert of(play(a, paths, 4, jitter=3.0), EventType.WRONG_WAY) == []


# ---- pedestrian -----------------------------------------------------------------------------


def test_pedestrian_on_carriageway_but_not_riders_or_crosswalk():
    crosswalk = {
        "name": "zebra",
        "kind": "crosswalk",
        "polygon": [[0, 0], [640, 0], [640, 100], [0, 100]],
    }
    a = analytics(zones=[ROAD, crosswalk], rules={"pedestrian_on_carriageway": {"on_s": 0.5}})
    walker = Path([(0, 100, 300), (3, 150, 300)], w=14, h=40, class_id=PERSON)
    on_zebra = Path([(0, 300, 60), (3, 400, 60)], w=14, h=40, class_id=PERSON)
    bike = Path([(0, 500, 400), (3, 500, 200)], w=20, h=30, class_id=MOTORCYCLE)
    rider = Path([(0, 500, 390), (3, 500, 190)], w=16, h=40, class_id=PERSON)
    events = of(play(a, [walker, on_zebra, bike, rider], 3), EventType.PEDESTRIAN_ON_CARRIAGEWAY)
    assert events and {e.track_id for e in events} == {events[0].track_id}
    assert events[0].geometry.point[0] < 200


# 10 px = 1 m on the road (image (x, y) -> world (x / 10, y / 10)); the speeding tests use it too.
CALIBRATION = {
    "image_points": [[0, 0], [640, 0], [640, 480], [0, 480]],
    "world_points": [[0, 0], [64, 0], [64, 48], [0, 48]],
    "error_m": 0.2,
}


def _kmh(x, y0, kmh, seconds, w=14, h=40):
    """A person boxed alone moving up the image at ``kmh`` on the 10 px/m calibration."""
    return Path(
        [(0, x, y0), (seconds, x, y0 - kmh / 3.6 * 10 * seconds)], w=w, h=h, class_id=PERSON
    )


@pytest.mark.parametrize(
    ("kmh", "alerts"),
    [(4.0, 1), (7.0, 1), (25.0, 0), (45.0, 0)],
)
def test_a_person_at_vehicle_speed_is_a_rider_not_a_pedestrian(kmh, alerts):
    # The detector boxes a motorcyclist seen from behind as one ``person`` (no motorbike box):
    # on a calibrated camera their speed tells them from people on foot.
    a = analytics(
        zones=[ROAD], calibration=CALIBRATION, rules={"pedestrian_on_carriageway": {"on_s": 1}}
    )
    events = play(a, [_kmh(300, 470, kmh, 3.0)], 3.0)
    starts = of(events, EventType.PEDESTRIAN_ON_CARRIAGEWAY, EventPhase.START)
    assert len(starts) == alerts
    if alerts:
        assert starts[0].measurements["speed_kmh"] == pytest.approx(kmh, abs=2.0)


def test_a_rider_who_stops_stays_a_rider_and_a_walker_stays_a_pedestrian():
    a = analytics(
        zones=[ROAD], calibration=CALIBRATION, rules={"pedestrian_on_carriageway": {"on_s": 1}}
    )
    # 30 km/h for 2 s (a motorcyclist boxed as a person), then waiting at a light for 4 s
    rider = Path([(0, 150, 470), (2, 150, 303), (6, 150, 303)], w=14, h=40, class_id=PERSON)
    walker = Path([(0, 450, 300), (6, 450, 220)], w=14, h=40, class_id=PERSON)  # 4.8 km/h
    events = of(play(a, [rider, walker], 6), EventType.PEDESTRIAN_ON_CARRIAGEWAY)
    assert events and all(e.geometry.point[0] == pytest.approx(450, abs=4) for e in events)


def test_riders_without_a_calibration_by_box_heights_per_second():
    a = analytics(zones=[ROAD], rules={"pedestrian_on_carriageway": {"on_s": 1}})
    fast = Path([(0, 150, 470), (3, 150, 170)], w=14, h=40, class_id=PERSON)  # 2.5 heights/s
    slow = Path([(0, 450, 300), (3, 450, 260)], w=14, h=40, class_id=PERSON)  # 0.33 heights/s
    events = of(play(a, [fast, slow], 3), EventType.PEDESTRIAN_ON_CARRIAGEWAY, EventPhase.START)
    assert [e.geometry.point[0] for e in events] == [pytest.approx(450, abs=4)]
    assert events[0].measurements["speed_heights_s"] == pytest.approx(0.33, abs=0.1)


def test_a_person_sometimes_boxed_as_a_motorbike_is_a_rider():
    # A motorcyclist waiting at a light, boxed as a person in most frames and as a motorcycle
    # in some: the motorcycle votes make the track a rider although it stands still.
    a = analytics(
        zones=[ROAD], calibration=CALIBRATION, rules={"pedestrian_on_carriageway": {"on_s": 1}}
    )
    rider = Path([(0, 200, 300), (4, 200, 300)], w=16, h=40, class_id=PERSON)
    as_bike = Path([(0, 200, 300), (4, 200, 300)], w=16, h=40, class_id=MOTORCYCLE, score=0.8)
    walker = Path([(0, 450, 300), (4, 450, 250)], w=14, h=40, class_id=PERSON)
    hide = lambda k, t: (k == 0 and int(t * 30) % 3 == 0) or (k == 1 and int(t * 30) % 3 != 0)  # noqa: E731
    events = of(
        play(a, [rider, as_bike, walker], 4, hide=hide), EventType.PEDESTRIAN_ON_CARRIAGEWAY
    )
    assert events and {round(e.geometry.point[0]) for e in events} == {450}


# ---- speeding -------------------------------------------------------------------------------

LIMITED = {**ROAD, "speed_limit": {"default": 50, "per_class": {"motorcycle": 40}}}
# A camera looking along a road 20 m wide: 0.03 m per pixel at the bottom, 0.26 at row 200,
# over 1 m at row 120 (world metres 70) and beyond.
PERSPECTIVE = {
    "image_points": [[0, 480], [640, 480], [360, 100], [280, 100]],
    "world_points": [[0, 0], [20, 0], [20, 100], [0, 100]],
    "error_m": 0.2,
}


def test_speeding_with_measured_speed_and_uncertainty():
    a = analytics(zones=[LIMITED], calibration=CALIBRATION, rules={"speeding": {"on_s": 0.3}})
    fast = Path([(0, 100, 470), (2.5, 100, 20)])  # 45 m in 2.5 s = 64.8 km/h
    slow = Path([(0, 300, 470), (4, 300, 20)])  # 45 m in 4 s = 40.5 km/h
    moto = Path([(0, 500, 470), (3, 500, 20)], w=20, h=40, class_id=MOTORCYCLE)  # 54 km/h > 40
    events = of(play(a, [fast, slow, moto], 4, jitter=2.0), EventType.SPEEDING)
    starts = {e.object_class: e for e in events if e.phase == EventPhase.START}
    assert set(starts) == {"car", "motorcycle"}
    car = starts["car"]
    assert car.measurements["speed_kmh"] == pytest.approx(64.8, abs=4)
    assert 0 < car.measurements["speed_uncertainty_kmh"] < 10
    assert car.measurements["limit_kmh"] == 50
    assert starts["motorcycle"].measurements["limit_kmh"] == 40


def test_speeding_events_carry_the_speed_over_the_limit_never_a_lower_one():
    # 65 km/h for 1.5 s, then braking to 20 km/h: every event of the incident (start, end)
    # carries the speed that broke the limit, never the one the car slowed down to.
    a = analytics(
        zones=[LIMITED], calibration=CALIBRATION, rules={"speeding": {"on_s": 0.3, "off_s": 0.5}}
    )
    braking = Path([(0, 100, 470), (1.5, 100, 199), (4.0, 100, 60)])  # 65 km/h, then 20 km/h
    events = of(play(a, [braking], 4.0, jitter=1.0), EventType.SPEEDING)
    assert [e.phase for e in events] == [EventPhase.START, EventPhase.END]
    assert all(e.measurements["speed_kmh"] > 50 + 5 for e in events)  # limit + tolerance
    assert events[0].measurements["speed_kmh"] == pytest.approx(65, abs=5)


class _RoadCar:
    """A car 1.6 m high at road-plane (x_m, metres_at(t)) on PERSPECTIVE, boxed to scale."""

    def __init__(self, metres_at, seconds, x_m=10.0):
        self.metres_at, self.seconds, self.x_m = metres_at, seconds, x_m
        self.class_id, self.score = CAR, 0.9
        self.matrix = cv2.getPerspectiveTransform(
            np.array(PERSPECTIVE["world_points"], dtype=np.float32),
            np.array(PERSPECTIVE["image_points"], dtype=np.float32),
        )

    def box_at(self, t):
        if t > self.seconds:
            return None
        y = self.metres_at(t)
        world = np.float32([[self.x_m, y], [self.x_m + 1.0, y]]).reshape(-1, 1, 2)
        (x0, y0), (x1, _) = cv2.perspectiveTransform(world, self.matrix).reshape(-1, 2)
        px_per_m = float(x1 - x0)
        return (x0 - 0.9 * px_per_m, y0 - 1.6 * px_per_m, x0 + 0.9 * px_per_m, y0)


@pytest.mark.parametrize(("max_metres_per_px", "far_alerts"), [(0.3, 0), (5.0, 1)])
def test_no_speed_is_measured_where_a_pixel_is_metres_of_road(max_metres_per_px, far_alerts):
    a = analytics(
        zones=[{**ROAD, "speed_limit": {"default": 50}}],
        calibration=PERSPECTIVE,
        rules={"speeding": {"on_s": 0.3, "max_metres_per_px": max_metres_per_px}},
    )
    near = _RoadCar(lambda t: 2.0 + 20.0 * t, 1.4)  # 72 km/h over metres 2-30 (<= 0.3 m/px)
    far = _RoadCar(lambda t: 45.0 + 20.0 * t, 2.4)  # 72 km/h over metres 45-93 (> 0.5 m/px)
    events = of(play(a, [near, far], 2.4), EventType.SPEEDING, EventPhase.START)
    assert len(events) == 1 + far_alerts
    assert events[0].measurements["speed_kmh"] == pytest.approx(72, abs=6)


def test_a_motorcyclist_boxed_as_a_person_is_checked_against_the_motorcycle_limit():
    a = analytics(zones=[LIMITED], calibration=CALIBRATION, rules={"speeding": {"on_s": 0.3}})
    rider = _kmh(200, 470, 60.0, 2.5)  # boxed as a person: 60 km/h, motorcycle limit 40
    walker = _kmh(450, 470, 6.0, 2.5)
    events = of(play(a, [rider, walker], 2.5, jitter=1.0), EventType.SPEEDING, EventPhase.START)
    assert [e.geometry.point[0] for e in events] == [pytest.approx(200, abs=4)]
    assert events[0].measurements["limit_kmh"] == 40
    assert events[0].measurements["speed_kmh"] == pytest.approx(60, abs=5)


def test_speeding_needs_calibration():
    with pytest.raises(UserFacingError, match=r"rules.speeding: .*calibration"):
        analytics(zones=[LIMITED], rules={"speeding": {}})


# ---- congestion ------------------------------------------------------------------------------


def test_congestion_levels_with_hysteresis():
    rules = {
        "congestion": {
            "heavy_count": 6,
            "jam_count": 10,
            "jam_speed": 20,
            "smoothing_s": 1,
            "min_level_s": 2,
        }
    }
    a = analytics(zones=[ROAD], rules=rules)
    queue = [
        Path([(0, 30 + 50 * i, 300 + 10 * (i % 2)), (12, 30 + 50 * i, 300 + 10 * (i % 2))], w=30)
        for i in range(12)
    ]
    # 12 standing vehicles for 12 s, then 9 of them leave, flickering the count around 6*0.7.
    hide = lambda k, t: t > 12 and k >= 3  # noqa: E731
    events = of(play(a, queue, 24, hide=hide, jitter=1.0), EventType.CONGESTION)
    levels = [(e.phase, e.attributes["level"]) for e in events]
    assert levels[0] == (EventPhase.START, "jam")
    assert levels[-1] == (EventPhase.END, "free")
    assert len([phase for phase, _ in levels if phase == EventPhase.START]) == 1


# ---- red light ------------------------------------------------------------------------------

STOP = {"name": "S1", "start": [0, 200], "end": [640, 200], "positive": "left", "signal": "sig"}


def _signal_scene(signal):
    return {"signals": [signal], "stop_lines": [STOP], "rules": {"red_light": {}}}


def test_red_light_from_a_schedule():
    signal = {
        "id": "sig",
        "source": "schedule",
        "schedule": {"cycle_s": 10, "red_start_s": 0, "red_s": 5},
    }
    a = analytics(**_signal_scene(signal))
    on_red = Path([(0, 100, 400), (3, 100, 50)])  # crosses at ~1.7 s: red
    on_green = Path([(4, 300, 400), (8, 300, 50)])  # crosses at ~6.3 s: green
    events = of(play(a, [on_red, on_green], 8), EventType.RED_LIGHT)
    assert len(events) == 1 and events[0].attributes["signal_state"] == "red"
    assert events[0].geometry.point[0] == pytest.approx(100, abs=3)
    assert a.rules[0].crossings == {"red": 1, "green": 1}


def test_red_light_from_an_external_source_and_stale_state():
    from edge.rules import ExternalSignalStates

    clock = [0.0]
    external = ExternalSignalStates(clock=lambda: clock[0])
    signal = {"id": "sig", "source": "external", "stale_after_s": 5}
    a = CameraAnalytics(scene(**_signal_scene(signal)), NAMES, external_signals=external)
    external.set("sig", "red")
    events = of(play(a, [Path([(0, 100, 400), (3, 100, 50)])], 3), EventType.RED_LIGHT)
    assert len(events) == 1
    clock[0] = 100.0  # nobody confirmed the state for 100 s: unknown, no violation
    b = CameraAnalytics(scene(**_signal_scene(signal)), NAMES, external_signals=external)
    assert of(play(b, [Path([(0, 100, 400), (3, 100, 50)])], 3), EventType.RED_LIGHT) == []


def _lamp_image(colour):
    image = np.full((480, 640, 3), 60, np.uint8)
    image[20:80, 600:630] = 20
    centre = {"red": (615, 30), "amber": (615, 50), "green": (615, 70)}[colour]
    bgr = {"red": (0, 0, 255), "amber": (0, 190, 255), "green": (80, 255, 0)}[colour]
    import cv2

    cv2.circle(image, centre, 7, bgr, -1)
    return image


@pytest.mark.parametrize("colour", ["red", "amber", "green"])
def test_colour_classifier(colour):
    from edge.rules import classify_signal_colour

    assert classify_signal_colour(_lamp_image(colour)[20:80, 600:630]).value == colour


def test_red_light_from_the_colour_of_the_signal_region():
    signal = {"id": "sig", "source": "colour", "region": [600, 20, 30, 60]}
    a = analytics(**_signal_scene(signal))
    image = lambda t: _lamp_image("red" if t < 4 else "green")  # noqa: E731
    paths = [Path([(0, 100, 400), (3, 100, 50)]), Path([(4, 300, 400), (7, 300, 50)])]
    events = of(play(a, paths, 7, image=image), EventType.RED_LIGHT)
    assert len(events) == 1 and events[0].geometry.point[0] == pytest.approx(100, abs=3)


# ---- configuration errors ------------------------------------------------------------------


def test_unknown_rule_and_bad_parameter_are_named():
    # refused when the scene is validated, before anything is built
    with pytest.raises(ValidationError, match=r"rules.nonsense\n  unknown rule"):
        analytics(rules={"nonsense": {}})
    with pytest.raises(ValidationError, match=r"rules.line_crossing.dead_band_px"):
        analytics(lines=[LINE], rules={"line_crossing": {"dead_band_px": -1}})
    with pytest.raises(UserFacingError, match=r"rules.illegal_stop.*unknown zone"):
        analytics(rules={"illegal_stop": {"zones": ["nowhere"]}})


def test_wrong_way_is_not_judged_while_the_view_pans():
    # The camera tilts: the picture, and a car standing in the lane with it, slides down at
    # 60 px/s, against the lane's direction. Nothing moves on the road.
    texture = cv2.resize(
        np.random.default_rng(3).integers(0, 255, (195, 160), dtype=np.uint8),
        (640, 780),
        interpolation=cv2.INTER_NEAREST,
    )

    def tilting(t: float) -> np.ndarray:
        top = 300 - round(60 * t)
        return cv2.cvtColor(texture[top : top + 480], cv2.COLOR_GRAY2BGR)

    standing_car = [Path([(0, 300, 150), (4, 300, 390)])]
    judged_anyway = analytics(
        lanes=[LANE], rules={"wrong_way": {"on_s": 1, "max_view_shift_px": 1000}}
    )
    assert of(play(judged_anyway, standing_car, 4, image=tilting), EventType.WRONG_WAY)
    a = analytics(lanes=[LANE], rules={"wrong_way": {"on_s": 1}})
    assert of(play(a, standing_car, 4, image=tilting), EventType.WRONG_WAY) == []
