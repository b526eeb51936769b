"""Scene config: strict validation naming the field, and the check-config drawing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from edge.scene import SceneConfig, load_scene
from traffic_monitor.cli import main
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))


def write(tmp_path, data) -> Path:
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BASE = {"camera": {"id": "cam1"}, "source": {"uri": "x.mp4"}}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"camera": {"id": "cam1", "colour": "red"}}, "camera.colour: Extra inputs"),
        (
            {"zones": [{"name": "z", "kind": "lake", "polygon": [[0, 0], [1, 0], [1, 1]]}]},
            "zones.0.kind",
        ),
        (
            {"zones": [{"name": "z", "kind": "sidewalk", "polygon": [[0, 0], [1, 0]]}]},
            "zones.0.polygon",
        ),
        ({"tracker": {"max_lost_s": -1}}, "tracker.max_lost_s"),
        ({"detector": {"confidence": 2}}, "detector.confidence"),
        (
            {"lines": [{"name": "l", "start": [0, 0], "end": [1, 1], "positive": "up"}]},
            "lines.0.positive",
        ),
        (
            {
                "stop_lines": [
                    {
                        "name": "s",
                        "start": [0, 0],
                        "end": [1, 1],
                        "positive": "left",
                        "signal": "nope",
                    }
                ]
            },
            "unknown signal 'nope'",
        ),
        ({"signals": [{"id": "s", "source": "colour"}]}, "needs a 'region'"),
    ],
)
def test_errors_name_the_field(tmp_path, patch, message):
    with pytest.raises(UserFacingError, match=message.replace(".", r"\.").replace("'", "'")):
        load_scene(write(tmp_path, {**BASE, **patch}))


def test_every_field_has_a_description():
    def walk(model, seen):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            for arg in (*getattr(field.annotation, "__args__", ()), field.annotation):
                if isinstance(arg, type) and hasattr(arg, "model_fields") and arg not in seen:
                    seen.add(arg)
                    walk(arg, seen)

    walk(SceneConfig, set())


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_are_valid(config):
    assert load_scene(config).camera.id


def test_check_config_renders_the_geometry(tmp_path, overpass_video):
    output = tmp_path / "check.png"
    config = REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml"
    status = main(
        [
            "edge",
            "check-config",
            str(config),
            "--frame",
            str(overpass_video),
            "--output",
            str(output),
        ]
    )
    assert status == 0
    drawn = cv2.imread(str(output))
    capture = cv2.VideoCapture(str(overpass_video))
    _, frame = capture.read()
    capture.release()
    assert drawn.shape == frame.shape
    # The counting line 'towards' (green, y = 400, x 80-375) is drawn where configured.
    assert np.all(drawn[400, 150] == (0, 255, 0))
    assert not np.array_equal(drawn[400, 150], frame[400, 150])


def test_check_config_refuses_a_frame_of_another_size(tmp_path, bus_image):
    config = REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml"
    status = main(
        [
            "edge",
            "check-config",
            str(config),
            "--frame",
            str(bus_image),
            "--output",
            str(tmp_path / "x.png"),
        ]
    )
    assert status == 2


# ---- region of interest ----------------------------------------------------------------------

LEFT_HALF = [[0, 0], [320, 0], [320, 480], [0, 480]]


@pytest.mark.parametrize(
    ("roi", "message"),
    [
        ([[0, 0], [10, 10]], "roi: List should have at least 3 items"),
        ([[0, 0], [10, 10], [20, 20]], "roi: Value error, the polygon has no area"),
    ],
)
def test_roi_is_validated(tmp_path, roi, message):
    with pytest.raises(UserFacingError, match=message):
        load_scene(write(tmp_path, {**BASE, "roi": roi}))


def test_detections_outside_the_roi_are_not_tracked_or_counted_but_still_blurred():
    from edge.pipeline.analytics import CameraAnalytics
    from edge.pipeline.sink import OutgoingEvent
    from tests.analytics.factories import NAMES, PERSON, Path, next_track_id, play, scene

    line = {"name": "L", "start": [0, 200], "end": [640, 200], "positive": "left"}
    analytics = CameraAnalytics(
        scene(roi=LEFT_HALF, lines=[line], rules={"line_crossing": {"emit_crossings": True}}),
        NAMES,
    )

    class Seen:
        def __init__(self):
            self.boxes = []

        def attach(self, events, image, detections):
            self.boxes.append(len(detections))
            return [OutgoingEvent(event) for event in events]

    analytics.evidence = seen = Seen()
    inside = Path([(0, 100, 400), (3, 100, 50)])  # crosses the line in the left half
    outside = Path([(0, 500, 400), (3, 500, 50)])  # same, in the right half
    walker = Path([(0, 600, 300), (3, 600, 320)], w=20, h=50, class_id=PERSON)
    play(analytics, [inside, outside, walker], 4, image=np.zeros((480, 640, 3), np.uint8))
    (rule,) = analytics.rules
    assert sum(rule.totals["L"].values()) == 1  # type: ignore[attr-defined]
    assert next_track_id(analytics) == 2  # one track ever: the car inside
    assert max(seen.boxes) == 3  # evidence still blurs the two outside the ROI


def test_check_config_draws_the_roi_and_warns_when_outside_the_frame(tmp_path, capsys):
    frame = np.full((480, 640, 3), 200, np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    config = write(tmp_path, {**BASE, "roi": [[100, 100], [600, 100], [600, 470], [100, 500]]})
    output = tmp_path / "check.png"
    status = main(
        [
            "edge",
            "check-config",
            str(config),
            "--frame",
            str(tmp_path / "frame.png"),
            "--output",
            str(output),
        ]
    )
    assert status == 0
    drawn = cv2.imread(str(output))
    assert np.all(drawn[50, 50] < 100)  # outside the ROI: darkened
    assert np.all(drawn[300, 300] == 200)  # inside: untouched
    assert np.all(drawn[100, 350] == (0, 255, 255))  # the outline
    out = capsys.readouterr().out
    assert "outside the frame in roi" in out and "valid (ROI," in out


def test_polygon_test_is_opencvs_point_for_point_edges_and_vertices_included() -> None:
    """The compiled zone test gives ``cv2.pointPolygonTest(...) >= 0`` for every point."""
    from edge.scene.geometry import in_polygon

    rng = np.random.default_rng(11)
    for trial in range(300):
        count = int(rng.integers(3, 9))
        if trial % 2:  # integer vertices and points: many exactly on an edge or a vertex
            polygon = rng.integers(0, 40, size=(count, 2)).astype(np.float64)
            points = rng.integers(-2, 42, size=(150, 2)).astype(np.float64)
        else:
            polygon = rng.uniform(0, 854, size=(count, 2))
            points = rng.uniform(-10, 864, size=(150, 2))
        points = np.concatenate([points, polygon, (polygon + np.roll(polygon, 1, axis=0)) / 2])
        contour = polygon.astype(np.float32).reshape(-1, 1, 2)
        expected = [
            cv2.pointPolygonTest(contour, (float(x), float(y)), False) >= 0 for x, y in points
        ]
        np.testing.assert_array_equal(in_polygon(polygon, points), expected, str(trial))
    assert in_polygon(polygon, np.empty((0, 2))).shape == (0,)
