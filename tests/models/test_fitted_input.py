"""Camera-fitted network inputs: the size rule, the export and what it detects."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detector import Detector, DetectorConfig
from edge.detector.preprocess import fitted_input_size
from models.cli import frame_size
from models.export import ExportOptions, export_onnx
from models.metrics import box_iou
from tests.conftest import require_shared


@pytest.mark.parametrize(
    ("imgsz", "frame", "expected"),
    [
        (640, (854, 480), (384, 640)),  # the overpass clip: 640 x 360 padded to 384
        (640, (1920, 1080), (384, 640)),
        (640, (640, 480), (480, 640)),
        (416, (854, 480), (256, 416)),  # 416 x 234 padded to 256
        (320, (854, 480), (192, 320)),
        (640, (480, 854), (640, 384)),  # portrait
        (640, (700, 700), (640, 640)),
    ],
)
def test_fitted_size_is_ultralytics_rect_letterbox(
    imgsz: int, frame: tuple[int, int], expected: tuple[int, int]
):
    assert fitted_input_size(imgsz, frame) == expected


def test_fitted_size_refuses_bad_sizes():
    with pytest.raises(ValueError, match="multiple of 32"):
        fitted_input_size(300, (854, 480))
    with pytest.raises(ValueError, match="not positive"):
        fitted_input_size(640, (0, 480))


def test_frame_size_argument():
    assert frame_size("854x480") == (854, 480)
    assert frame_size("1920X1080") == (1920, 1080)
    for bad in ("854", "x480", "854x", "0x480", "a x b", "854x00"):
        with pytest.raises(argparse.ArgumentTypeError, match="WIDTHxHEIGHT"):
            frame_size(bad)


def test_export_refuses_fitting_an_onnx_file(tmp_path: Path):
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    with pytest.raises(Exception, match="--frame-size"):
        export_onnx(model, ExportOptions(frame_size=(854, 480)))
    assert ExportOptions(imgsz=640, frame_size=(854, 480)).input_size == (384, 640)
    assert ExportOptions(imgsz=640).input_size == (640, 640)


def test_square_model_on_wide_frames_says_how_to_fit_it(
    yolo11n_320_onnx: Path, overpass_video: Path, caplog: pytest.LogCaptureFixture
):
    capture = cv2.VideoCapture(str(overpass_video))
    ok, frame = capture.read()
    capture.release()
    assert ok
    detector = Detector(DetectorConfig(model=yolo11n_320_onnx))
    with caplog.at_level(logging.INFO, logger="edge.detector.detector"):
        detector.detect_one(frame)
        detector.detect_one(frame)
    hints = [r.getMessage() for r in caplog.records if "--frame-size" in r.getMessage()]
    assert len(hints) == 1  # once per frame size
    assert "--imgsz 320 --frame-size 854x480" in hints[0]
    assert "input 320x192, 60% of the pixels" in hints[0]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="edge.detector.detector"):
        detector.detect_one(cv2.resize(frame, (320, 320)))  # a square camera: nothing to fit
    assert not [r for r in caplog.records if "--frame-size" in r.getMessage()]


@pytest.mark.models
def test_fitted_export_detects_what_ultralytics_pytorch_does(
    overpass_video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The fitted ONNX sees what ``YOLO("x.pt").predict`` sees: its rect letterbox."""
    ultralytics = pytest.importorskip("ultralytics")
    weights = require_shared("models", "yolo11n.pt")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    options = ExportOptions(imgsz=320, frame_size=(854, 480))
    out = export_onnx(weights, options, tmp_path / "fitted.onnx")
    detector = Detector(DetectorConfig(model=out, confidence=0.25, iou=0.45))
    assert detector.input_size == (192, 320)
    reference = ultralytics.YOLO(str(weights))
    capture = cv2.VideoCapture(str(overpass_video))
    compared = 0
    for _ in range(3):
        ok, frame = capture.read()
        assert ok
        ours = detector.detect_one(frame)
        theirs = reference.predict(frame, imgsz=320, conf=0.25, iou=0.45, verbose=False)[0]
        boxes = theirs.boxes.xyxy.numpy()
        assert len(ours) == len(boxes) > 0
        best = box_iou(ours.xyxy, boxes).argmax(axis=1)
        assert (box_iou(ours.xyxy, boxes).max(axis=1) >= 0.95).all()
        assert np.allclose(ours.confidence, theirs.boxes.conf.numpy()[best], atol=0.01)
        compared += len(ours)
    capture.release()
    assert compared > 0
