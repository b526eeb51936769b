"""The edge config tree: defaults merged once, old files still read, rules and calibration
checked at load, calibration files driving the speed rule."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest
import yaml

from calibration import CalibrationFile, save_calibration
from calibration.camera import CameraModel, LensModel
from calibration.store import LensParams
from edge.detections import Detections
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.config import capture_config, load_edge_config, load_run_config
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import MemorySink
from edge.rules.base import FrameContext, Rule, RuleParams, make_event, register_rule
from edge.scene import CalibrationReference, load_scene
from tests.analytics.factories import NAMES, detections, scene
from tests.analytics.factories import Path as Track
from tests.analytics.test_pipeline import SyntheticSource
from traffic_monitor.cli import main
from traffic_monitor.contract import Event, EventPhase, EventType
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))
WHOLE_FRAME = [[0, 0], [640, 0], [640, 480], [0, 480]]
LIMITED = {
    "name": "road",
    "kind": "carriageway",
    "polygon": WHOLE_FRAME,
    "speed_limit": {"default": 50},
}


def camera(camera_id: str = "cam1", **sections: Any) -> dict[str, Any]:
    """A camera mapping on a synthetic source with the given sections."""
    return {"camera": {"id": camera_id, "site": "s1"}, "source": {"uri": "0"}, **sections}


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


# ---- one tree, defaults merged once -------------------------------------------------------


def test_camera_defaults_are_merged_into_every_camera_once_at_load(tmp_path):
    write(tmp_path / "north.yaml", camera("north", rules={"line_crossing": {}}))
    config = load_edge_config(
        write(
            tmp_path / "edge.yaml",
            {
                "node": {"site_id": "s1", "node_id": "box7"},
                "transport": {"type": "mqtt", "mqtt": {"outbox_path": str(tmp_path / "o.db")}},
                "camera_defaults": {
                    "source": {"queue_size": 4, "stall_timeout_s": 3, "reconnect_max_s": 5},
                    "detector": {"confidence": 0.4},
                    "rules": {"camera_health": {"check_interval_s": 1.0}},
                },
                "cameras": [
                    camera("south", source={"uri": "1", "live": True, "queue_size": 1}),
                    "north.yaml",
                ],
            },
        )
    )
    south, north = config.cameras
    assert (south.source.queue_size, north.source.queue_size) == (1, 4)  # the camera wins
    assert south.source.stall_timeout_s == north.source.stall_timeout_s == 3
    assert south.detector.confidence == north.detector.confidence == 0.4
    assert list(south.rules) == ["camera_health"]
    assert list(north.rules) == ["camera_health", "line_crossing"]  # defaults run first
    assert north.rules["camera_health"].model_dump()["check_interval_s"] == 1.0
    assert config.node_id == "box7"
    assert config.transport.mqtt is not None and config.transport.mqtt.site_id == "s1"
    capture = capture_config(south, tmp_path, realtime=True)
    assert (capture.uri, capture.camera_id, capture.live, capture.realtime) == (
        "1",
        "south",
        True,
        True,
    )
    assert (capture.queue_size, capture.stall_timeout_s, capture.reconnect_max_s) == (1, 3, 5)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"camera_defaults": {"camera": {"id": "x"}}}, r"camera_defaults: not camera sections"),
        ({"camera_defaults": {"detectr": {}}}, r"camera_defaults: not camera sections: detectr"),
        (
            {
                "node": {"site_id": "s1", "node_id": "a"},
                "transport": {"type": "mqtt", "mqtt": {"site_id": "s1", "node_id": "b"}},
            },
            r"give the identity once",
        ),
        ({"node": {"site_id": "s2", "node_id": "a"}}, r"names another site"),
        ({"metrics_prot": 9100}, r"metrics_prot: Extra inputs"),
    ],
)
def test_a_wrong_tree_is_refused_with_the_field_named(tmp_path, document, problem):
    path = write(tmp_path / "edge.yaml", {"cameras": [camera()], **document})
    with pytest.raises(UserFacingError, match=problem):
        load_edge_config(path)


def test_an_inline_camera_error_names_the_camera_and_the_field(tmp_path):
    path = write(
        tmp_path / "edge.yaml",
        {"cameras": [camera("a"), camera("b", source={"uri": "0", "queue_sise": 2})]},
    )
    with pytest.raises(UserFacingError, match=r"cameras\.1: invalid(.|\n)*source\.queue_sise"):
        load_edge_config(path)


# ---- today's files still read --------------------------------------------------------------


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_older_files_read_the_same_as_the_new_tree(tmp_path, config):
    """A scene file, an ``edge run`` file listing it, and the camera inline: one camera."""
    scene = load_scene(config)
    (single,) = load_run_config(config)[1]
    run = write(tmp_path / "run.yaml", {"cameras": [str(config)], "events": "e.jsonl"})
    (listed,) = load_run_config(run)[1]
    inline = yaml.safe_load(config.read_text(encoding="utf-8"))
    if "calibration" in inline and "file" in inline["calibration"]:  # pragma: no cover
        inline["calibration"]["file"] = str(config.parent / inline["calibration"]["file"])
    (tree,) = load_edge_config(write(tmp_path / "edge.yaml", {"cameras": [inline]})).cameras
    assert scene == single == listed == tree
    assert list(tree.rules) == list(yaml.safe_load(config.read_text()).get("rules", {}))


# ---- rule settings refused before anything loads ------------------------------------------


class _NoModelLoads:
    """Stands in for the detector: a test fails if anything constructs one."""

    built: ClassVar[list[Any]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _NoModelLoads.built.append(args)
        raise AssertionError("a detector was constructed before the config was refused")


@pytest.fixture
def no_detector(monkeypatch):
    import edge.detector

    _NoModelLoads.built = []
    monkeypatch.setattr(edge.detector, "Detector", _NoModelLoads)
    return _NoModelLoads.built


def _overpass_with(tmp_path: Path, **rules: Any) -> Path:
    data = yaml.safe_load((REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml").read_text())
    data["detector"] = {"model": str(tmp_path / "missing-model.onnx")}  # would fail later
    for name, settings in rules.items():
        data["rules"][name] = {**data["rules"].get(name, {}), **settings}
    return write(tmp_path / "overpass.yaml", data)


def test_check_config_refuses_a_misspelt_rule_option_before_any_model_loads(
    tmp_path, capsys, no_detector
):
    path = _overpass_with(tmp_path, speeding={"tolerance_kmhh": 3})
    status = main(["edge", "check-config", str(path), "--output", str(tmp_path / "x.png")])
    assert status != 0
    assert (
        "rules.speeding.tolerance_kmhh: Extra inputs are not permitted" in capsys.readouterr().err
    )
    assert no_detector == [] and not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ({"speeding": {"tolerance_kmhh": 3}}, "rules.speeding.tolerance_kmhh"),
        ({"speedng": {}}, "rules.speedng: unknown rule; available: camera_health"),
        ({"wrong_way": {"on_s": -1}}, "rules.wrong_way.on_s: Input should be greater"),
        ({"illegal_stop": {"zones": ["nowhere"]}}, "rules.illegal_stop: .*nowhere"),
        # retired for check_interval_s (media time): a frame count meant another rate
        ({"no_helmet": {"every_n_frames": 2}}, "rules.no_helmet.every_n_frames: Extra inputs"),
    ],
)
def test_edge_run_refuses_rule_mistakes_before_a_model_loads_or_a_source_opens(
    tmp_path, capsys, monkeypatch, no_detector, rules, problem
):
    import edge.ingest

    opened: list[Any] = []
    monkeypatch.setattr(edge.ingest, "CaptureWorker", lambda *a, **k: opened.append(a))
    status = main(["edge", "run", str(_overpass_with(tmp_path, **rules))])
    assert status != 0
    assert re.search(problem, capsys.readouterr().err)
    assert no_detector == [] and opened == []


def test_edge_run_error_text_names_the_field(tmp_path, no_detector):
    from edge.pipeline.commands import check_rules

    with pytest.raises(UserFacingError, match=r"rules\.wrong_way\.on_s"):
        load_run_config(_overpass_with(tmp_path, wrong_way={"on_s": -1}))
    scenes = load_run_config(_overpass_with(tmp_path, illegal_stop={"zones": ["nowhere"]}))[1]
    with pytest.raises(UserFacingError, match=r"camera nga-ba-hue-overpass: rules\.illegal_stop"):
        check_rules(scenes)
    assert no_detector == []


# ---- calibration files ---------------------------------------------------------------------

K = [[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]
BARREL = [-0.35, 0.1, 0.0, 0.0]
TEN_PX_PER_M = [[0.1, 0.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 1.0]]  # undistorted px -> m
FPS = 30.0


def _calibration(path: Path, *, lens: bool) -> Path:
    stored = CalibrationFile(
        method="manual",
        image_size=(640, 480),
        homography=TEN_PX_PER_M,
        lens=LensParams(camera_matrix=K, dist_coeffs=BARREL) if lens else None,
    )
    save_calibration(stored, path)
    return path


def _car_through_the_lens(speed_mps: float, seconds: float) -> Track:
    """A car at a known road speed, its box anchor where the distorting lens shows it."""
    truth = CameraModel(TEN_PX_PER_M, lens=LensModel(np.asarray(K), np.asarray(BARREL)))
    times = np.arange(0.0, seconds, 1.0 / FPS)
    road = np.stack([np.full_like(times, 8.0), 44.0 - speed_mps * times], axis=1)
    pixels = truth.world_to_image(road)
    return Track([(t, x, y) for t, (x, y) in zip(times, pixels, strict=True)])


def _measured_kmh(scene_dir: Path, calibration_file: str) -> float:
    scene = load_scene(
        write(
            scene_dir / "cam.yaml",
            camera(
                zones=[LIMITED],
                calibration={"file": calibration_file, "error_m": 0.2},
                rules={"speeding": {"on_s": 0.3}},
            ),
        )
    )
    analytics = CameraAnalytics(scene, NAMES)
    car = _car_through_the_lens(20.0, 2.0)  # 72 km/h
    events = []
    for index in range(int(2.0 * FPS)):
        t = index / FPS
        box = car.box_at(t)
        events += analytics.process(
            detections([box] if box else []), index=index, timestamp=t, wall_time=1.7e9 + t
        )
    starts = [e for e in events if e.type == EventType.SPEEDING and e.phase == EventPhase.START]
    assert len(starts) == 1
    return starts[0].measurements["speed_kmh"]


def test_a_calibration_file_with_lens_distortion_drives_the_speed_rule(tmp_path):
    _calibration(tmp_path / "lens.yaml", lens=True)
    _calibration(tmp_path / "flat.yaml", lens=False)
    with_lens = _measured_kmh(tmp_path, "lens.yaml")  # relative: beside the camera file
    ignoring_it = _measured_kmh(tmp_path, "flat.yaml")
    assert with_lens == pytest.approx(72.0, abs=2.0)
    assert abs(ignoring_it - 72.0) > 5.0  # the same track without the lens model is off


def test_a_calibration_file_is_read_at_load_and_its_errors_named(tmp_path):
    lens = _calibration(tmp_path / "cal" / "lens.json", lens=True)
    scene = load_scene(write(tmp_path / "cam.yaml", camera(calibration={"file": "cal/lens.json"})))
    assert isinstance(scene.calibration, CalibrationReference)
    assert scene.calibration.file == lens and scene.calibration.stored.lens is not None
    with pytest.raises(UserFacingError, match=r"calibration(.|\n)*does not exist"):
        load_scene(write(tmp_path / "cam.yaml", camera(calibration={"file": "nope.yaml"})))
    with pytest.raises(UserFacingError, match=r"calibration(.|\n)*errr_m"):
        load_scene(
            write(tmp_path / "cam.yaml", camera(calibration={"file": "cal/lens.json", "errr_m": 1}))
        )
    inline = {"image_points": WHOLE_FRAME, "world_points": [[0, 0], [64, 0], [64, 48], [0, 48]]}
    assert load_scene(write(tmp_path / "cam.yaml", camera(calibration=inline))).calibration


# ---- crop ----------------------------------------------------------------------------------


def test_source_crop_is_settable_and_refused_without_area(tmp_path):
    scene = load_scene(
        write(tmp_path / "cam.yaml", camera(source={"uri": "0", "crop": [10, 20, 300, 200]}))
    )
    assert scene.source.crop == (10, 20, 300, 200)
    assert capture_config(scene, tmp_path).roi is None  # the capture keeps the native frame
    with pytest.raises(UserFacingError, match=r"source\.crop"):
        load_scene(write(tmp_path / "cam.yaml", camera(source={"uri": "0", "crop": [0, 0, 0, 5]})))


def test_check_config_draws_every_camera_of_a_tree(tmp_path, monkeypatch, capsys):
    frame = np.full((480, 640, 3), 120, np.uint8)
    cv2.imwrite(str(tmp_path / "frame.png"), frame)
    path = write(tmp_path / "edge.yaml", {"cameras": [camera("a"), camera("b")]})
    monkeypatch.chdir(tmp_path)
    assert main(["edge", "check-config", str(path), "--frame", str(tmp_path / "frame.png")]) == 0
    assert (tmp_path / "edge.a.check.png").is_file() and (tmp_path / "edge.b.check.png").is_file()


@register_rule
class _BoxesRule(Rule):
    """Reports every tracked box (tests only): where the rules see the detections."""

    name = "test_boxes"

    def process(self, frame: FrameContext) -> list[Event]:
        rows = frame.tracked()
        return [
            make_event(frame, self.name, EventType.ZONE_OCCUPANCY, row=row, detections=rows)
            for row in range(len(rows))
        ]


class _CornerDetector:
    """One box at (5, 5)-(21, 17) of whatever image it is given; remembers the image sizes."""

    names: tuple[str, ...] = NAMES

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def detect(self, images: Sequence[np.ndarray[Any, Any]]) -> list[Detections]:
        self.shapes += [image.shape for image in images]
        return [detections([[5, 5, 21, 17]]) for _ in images]


def test_a_cropped_camera_is_detected_in_its_crop_and_seen_in_native_pixels():
    crop = scene(camera={"id": "c"}, source={"uri": "x", "crop": [40, 30, 80, 60]})
    whole = scene(camera={"id": "w"}, source={"uri": "x"})
    for item in (crop, whole):
        item.rules = {"test_boxes": RuleParams()}
    detector, sink = _CornerDetector(), MemorySink()
    sources = {"c": SyntheticSource("c", 10), "w": SyntheticSource("w", 10)}
    Pipeline([crop, whole], {"c": detector, "w": _CornerDetector()}, sources, sink).run()
    assert set(detector.shapes) == {(60, 80, 3)}  # the detector saw the crop only
    boxes = {(e.camera_id, e.geometry.bbox) for e in sink.events if e.rule == "test_boxes"}
    assert boxes == {("c", (45.0, 35.0, 61.0, 47.0)), ("w", (5.0, 5.0, 21.0, 17.0))}


# ---- the shipped tree and its documentation ------------------------------------------------


def test_the_shipped_box_config_reads_as_a_tree():
    config = load_edge_config(REPO_ROOT / "configs" / "boxes" / "da_nang_overpass_box.yaml")
    near, far = config.cameras
    assert config.node_id == "edge-01"
    assert next(iter(near.rules)) == next(iter(far.rules)) == "camera_health"
    assert far.source.crop == (0, 150, 854, 330) and far.detector.imgsz == 960
    assert near == load_scene(REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml").model_copy(
        update={"rules": near.rules}
    )


def test_the_configuration_reference_is_current():
    from edge.pipeline.config_reference import BEGIN, END, config_reference

    text = (REPO_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = text.partition(BEGIN)[2].partition(END)[0]
    assert block == f"\n{config_reference()}", (
        "docs/configuration.md is out of date: python -m edge.pipeline.config_reference "
        "docs/configuration.md"
    )
