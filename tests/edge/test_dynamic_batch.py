"""Batched inference in one ``session.run`` with a dynamic-batch export (needs the models extra)."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.detector import Detector, DetectorConfig
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
