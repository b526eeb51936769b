"""Per-camera input size, sliced inference and the road-user default of the detector."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from edge.detections import Detections
from edge.detector import Detector, DetectorConfig, ModelError
from edge.detector.classes import ROAD_USER_CLASSES
from edge.detector.resolve import bundled_model
from edge.detector.tiling import TilingConfig, merge, tile_boxes

DEFAULT_MODEL = "coco-yolov8n"


@pytest.fixture(scope="module")
def dynamic_model() -> Path:
    """The committed dynamic-size COCO model (the configs' default)."""
    return bundled_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def overpass_frame(overpass_video: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(overpass_video))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


def test_tiles_cover_the_region_with_overlap() -> None:
    tiles = tile_boxes((854, 480), TilingConfig(region=(0, 100, 854, 200), grid=(2, 1)))
    assert len(tiles) == 2
    left, right = tiles
    assert (left.x, left.y, left.height) == (0, 100, 200)
    assert right.x + right.width == 854 and left.width == right.width
    assert left.x + left.width - right.x == pytest.approx(0.2 * left.width, abs=2)
    grid = tile_boxes((100, 100), TilingConfig(grid=(3, 2), overlap=0.0))
    assert len(grid) == 6 and sum(t.width * t.height for t in grid) >= 100 * 100 - 200


def test_region_is_clipped_to_the_frame() -> None:
    tiles = tile_boxes((640, 480), TilingConfig(region=(600, 400, 500, 500), grid=(1, 1)))
    assert [(t.x, t.y, t.width, t.height) for t in tiles] == [(600, 400, 40, 80)]
    assert tile_boxes((640, 480), TilingConfig(region=(700, 0, 10, 10))) == []


def test_bad_tiling_names_the_field() -> None:
    with pytest.raises(ValidationError, match="grid"):
        TilingConfig(grid=(0, 1))
    with pytest.raises(ValidationError, match="region"):
        TilingConfig(region=(0, 0, 0, 10))


def test_merge_drops_duplicates_and_cut_halves_keeps_other_classes() -> None:
    whole = Detections(np.array([[100, 100, 140, 180]]), np.array([0.9]), np.array([3]))
    duplicate = Detections(np.array([[101, 99, 141, 181]]), np.array([0.6]), np.array([3]))
    cut_half = Detections(np.array([[100, 100, 125, 180]]), np.array([0.5]), np.array([3]))
    other_class = Detections(np.array([[100, 100, 140, 180]]), np.array([0.4]), np.array([0]))
    merged = merge([whole, duplicate, cut_half, other_class], TilingConfig(), 300)
    assert sorted(merged.confidence.tolist()) == pytest.approx([0.4, 0.9])


def test_imgsz_fits_each_frame_on_a_dynamic_model(dynamic_model: Path) -> None:
    detector = Detector(DetectorConfig(model=dynamic_model, imgsz=960))
    frame = np.zeros((480, 854, 3), np.uint8)
    assert detector.input_size_for(frame) == (544, 960)
    assert detector.input_size_for(np.zeros((576, 1024, 3), np.uint8)) == (544, 960)
    assert detector.input_size_for(frame, 1280) == (736, 1280)


def test_imgsz_on_a_fixed_model_runs_its_own_size_and_says_how_to_change_it(
    yolov8n_onnx: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING"):
        detector = Detector(DetectorConfig(model=yolov8n_onnx, imgsz=960))
    assert detector.input_size_for(np.zeros((480, 854, 3), np.uint8)) == (640, 640)
    assert "--dynamic" in caplog.text and "960" in caplog.text
    with pytest.raises(ModelError, match="stride"):
        Detector(DetectorConfig(model=bundled_model(DEFAULT_MODEL), imgsz=1000))


def test_tiles_find_more_far_motorbikes_and_stay_in_the_frame(
    dynamic_model: Path, overpass_frame: np.ndarray
) -> None:
    plain = Detector(DetectorConfig(model=dynamic_model, imgsz=640, confidence=0.25))
    tiling = TilingConfig(region=(0, 150, 854, 250), grid=(2, 1), imgsz=640)
    tiled = Detector(plain.config.model_copy(update={"tiles": tiling}))
    found = {name: d.detect_one(overpass_frame) for name, d in (("plain", plain), ("tiled", tiled))}
    bikes = {name: int((d.class_id == 3).sum()) for name, d in found.items()}
    assert bikes["tiled"] > bikes["plain"]
    boxes = found["tiled"].xyxy
    assert (
        (boxes[:, [0, 2]] <= 854).all() and (boxes[:, [1, 3]] <= 480).all() and (boxes >= 0).all()
    )
    # a tiled frame in a batch gives what it gives alone
    batch = tiled.detect([overpass_frame, overpass_frame[:, ::-1].copy()])
    assert np.allclose(batch[0].xyxy, found["tiled"].xyxy, atol=1e-3)


def test_default_keeps_road_users_and_all_keeps_every_class(yolov8n_onnx: Path) -> None:
    default = Detector(DetectorConfig(model=yolov8n_onnx))
    assert default._params.class_mask is not None
    kept = {default.names[i] for i in np.flatnonzero(default._params.class_mask)}
    assert kept == set(ROAD_USER_CLASSES)
    everything = Detector(DetectorConfig(model=yolov8n_onnx, classes=["all"]))
    assert everything._params.class_mask is None
