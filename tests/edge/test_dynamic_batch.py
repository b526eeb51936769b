"""Batched inference in one ``session.run`` with a dynamic-batch export (needs the models extra)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detector import Detector, DetectorConfig
from models.metrics import box_iou
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def dynamic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ultralytics = pytest.importorskip("ultralytics", reason="needs the `models` extra")
    checkpoint = require_shared("models", "yolov8n.pt")
    work = tmp_path_factory.mktemp("dynamic")
    staged = work / "yolov8n.pt"
    shutil.copy(checkpoint, staged)
    exported = ultralytics.YOLO(str(staged)).export(format="onnx", imgsz=320, dynamic=True)
    return Path(str(exported))


def test_several_frames_in_one_call(dynamic_model: Path, overpass_video: Path) -> None:
    detector = Detector(DetectorConfig(model=dynamic_model))
    assert detector.max_batch == 0  # dynamic
    capture = cv2.VideoCapture(str(overpass_video))
    frames = [capture.read()[1] for _ in range(3)]
    capture.release()
    calls: list[int] = []
    original = detector.model.run

    def counting_run(blob: np.ndarray) -> np.ndarray:
        calls.append(len(blob))
        return original(blob)

    detector.model.run = counting_run  # type: ignore[method-assign]
    batched = detector.detect(frames)
    assert calls == [3]
    for frame, result in zip(frames, batched, strict=True):
        single = detector.detect_one(frame)
        assert len(single) == len(result) > 0
        np.testing.assert_allclose(single.xyxy, result.xyxy, atol=0.5)
        np.testing.assert_allclose(single.confidence, result.confidence, atol=1e-3)


def _first_frame(video: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(video))
    ok, frame = capture.read()
    capture.release()
    assert ok
    return frame


def test_dynamic_size_model_fits_each_frame_like_ultralytics(
    dynamic_model: Path, overpass_video: Path, intersection_video: Path
) -> None:
    """A dynamic-size model runs each camera at its fitted shape, as Ultralytics does."""
    ultralytics = pytest.importorskip("ultralytics")
    detector = Detector(DetectorConfig(model=dynamic_model, confidence=0.25, iou=0.45))
    assert detector.fits_input and detector.input_size == (320, 320)
    wide, four_three = _first_frame(overpass_video), _first_frame(intersection_video)
    assert detector.input_size_for(wide) == (192, 320)  # 854 x 480
    assert detector.input_size_for(four_three) == (256, 320)  # 640 x 480
    shapes: list[tuple[int, ...]] = []
    original = detector.model.run

    def recording_run(blob: np.ndarray) -> np.ndarray:
        shapes.append(blob.shape)
        return original(blob)

    detector.model.run = recording_run  # type: ignore[method-assign]
    mixed = detector.detect([wide, four_three, wide])
    assert shapes == [(2, 3, 192, 320), (1, 3, 256, 320)]  # one call per fitted shape
    assert detector.timings.frames == 3 and detector.timings.inference > 0
    reference = ultralytics.YOLO(str(dynamic_model), task="detect")
    for frame, ours in zip([wide, four_three, wide], mixed, strict=True):
        theirs = reference.predict(frame, imgsz=320, conf=0.25, iou=0.45, verbose=False)[0]
        boxes = theirs.boxes.xyxy.numpy()
        assert len(ours) == len(boxes) > 0
        iou = box_iou(ours.xyxy, boxes)
        assert (iou.max(axis=1) >= 0.95).all()
        theirs_conf = theirs.boxes.conf.numpy()[iou.argmax(axis=1)]
        np.testing.assert_allclose(ours.confidence, theirs_conf, atol=0.01)


def test_fitting_can_be_turned_off(dynamic_model: Path, overpass_video: Path) -> None:
    detector = Detector(DetectorConfig(model=dynamic_model, fit_input=False))
    assert not detector.fits_input
    assert detector.input_size_for(_first_frame(overpass_video)) == (320, 320)


def test_fixed_size_models_are_never_fitted(yolo11n_320_onnx: Path, overpass_video: Path) -> None:
    detector = Detector(DetectorConfig(model=yolo11n_320_onnx))
    assert not detector.model.info.dynamic_size and not detector.fits_input
    assert detector.input_size_for(_first_frame(overpass_video)) == (320, 320)


def test_openvino_compiles_each_fitted_shape_of_a_dynamic_size_model(
    dynamic_model: Path, overpass_video: Path, intersection_video: Path
) -> None:
    """OpenVINO compiles one static shape per fitted input: the same boxes as ONNX Runtime."""
    pytest.importorskip("openvino")
    ours = Detector(DetectorConfig(model=dynamic_model, runtime="openvino"))
    reference = Detector(DetectorConfig(model=dynamic_model))
    assert ours.fits_input
    frames = [_first_frame(overpass_video), _first_frame(intersection_video)]
    assert [ours.input_size_for(f) for f in frames] == [(192, 320), (256, 320)]
    for mine, theirs in zip(ours.detect(frames), reference.detect(frames), strict=True):
        assert len(mine) == len(theirs) > 0
        np.testing.assert_allclose(mine.xyxy, theirs.xyxy, atol=0.5)
    assert sorted(ours.model._compiled) == [(192, 320), (256, 320), (320, 320)]  # type: ignore[attr-defined]
