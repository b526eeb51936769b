"""The pipelined path finds what the sequential one finds; OpenVINO compared or skipped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks import openvino_compare
from benchmarks.detection_path import ModelCase
from benchmarks.openvino_compare import (
    agreement,
    compare,
    compare_model,
    letterboxed_blobs,
)
from benchmarks.pipelined import run_pipelined, session_variants, use_session_options
from benchmarks.realtime import decode
from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from models.metrics import box_iou
from traffic_monitor.errors import UserFacingError


@pytest.fixture(scope="module")
def detector(yolo11n_320_onnx: Path) -> Detector:
    return Detector(DetectorConfig(model=yolo11n_320_onnx))


def test_pipelined_path_matches_the_sequential_one(detector: Detector, overpass_video: Path):
    frames, _ = decode(overpass_video, 6)
    seen: list[tuple[int, Detections]] = []
    seconds = run_pipelined(detector, frames, lambda i, d: seen.append((i, d)))
    assert seconds > 0
    assert [index for index, _ in seen] == list(range(6))
    for index, found in seen:
        expected = detector.detect_one(frames[index])
        np.testing.assert_allclose(found.xyxy, expected.xyxy, atol=1e-3)
        np.testing.assert_array_equal(found.class_id, expected.class_id)


def test_a_failing_stage_is_reported(detector: Detector, overpass_video: Path):
    frames, _ = decode(overpass_video, 3)

    def broken(index: int, detections: Detections) -> None:
        raise ValueError("rules exploded")

    with pytest.raises(RuntimeError, match="stage") as caught:
        run_pipelined(detector, frames, broken)
    assert isinstance(caught.value.__cause__, ValueError)


def test_session_variants_time_the_same_network(detector: Detector, overpass_video: Path):
    blobs = letterboxed_blobs(overpass_video, 3, 320)
    result = session_variants(detector, blobs)
    assert set(result) == {"edge_default", "no_spinning", "io_binding"}
    assert all(stats["p50_ms"] > 0 for stats in result.values())


def test_session_options_reload_keeps_outputs(yolo11n_320_onnx: Path, overpass_video: Path):
    (blob,) = letterboxed_blobs(overpass_video, 1, 320)
    quiet = Detector(DetectorConfig(model=yolo11n_320_onnx))
    before = quiet.model.run(blob)
    use_session_options(quiet, {"session.intra_op.allow_spinning": "0"})
    np.testing.assert_allclose(quiet.model.run(blob), before, atol=1e-4)


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [20, 20, 30, 30], 0.0),
    ],
)
def test_box_iou(a: list[float], b: list[float], iou: float):
    assert box_iou(np.array([a], float), np.array([b], float))[0, 0] == pytest.approx(iou)


def test_identical_outputs_agree_fully(detector: Detector, overpass_video: Path):
    (blob,) = letterboxed_blobs(overpass_video, 1, 320)
    output = detector.model.run(blob)
    assert agreement(output, output, 320) == 1.0
    assert agreement(output, np.zeros_like(output), 320) == 0.0


def test_openvino_absent_is_reported_and_skipped(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(openvino_compare, "openvino_version", lambda: None)
    assert compare([], Path("x.mp4"), 3) == {
        "available": False,
        "reason": "the openvino package is not installed",
    }


def test_openvino_beside_onnxruntime(yolo11n_320_onnx: Path, overpass_video: Path):
    pytest.importorskip("openvino")
    result = compare_model(ModelCase("yolo11n@320", yolo11n_320_onnx, 320), overpass_video, 4)
    assert result["frames"] == 4
    assert result["onnxruntime"]["p50_ms"] > 0
    assert result["openvino_f32"]["p50_ms"] > 0
    assert result["openvino_f32_speedup_p50"] > 0
    assert result["openvino_f32_detections_agree"] >= 0.9  # same arithmetic, same boxes


def test_pipelined_path_on_openvino_matches_onnxruntime(detector: Detector, overpass_video: Path):
    pytest.importorskip("openvino")
    frames, _ = decode(overpass_video, 3)
    twin = Detector(detector.config.model_copy(update={"runtime": "openvino"}))
    seen: list[Detections] = []
    run_pipelined(twin, frames, lambda i, d: seen.append(d))
    for frame, found in zip(frames, seen, strict=True):
        expected = detector.detect_one(frame)
        assert len(found) == len(expected) > 0
        np.testing.assert_allclose(found.xyxy, expected.xyxy, atol=1.0)


def test_session_variants_refuse_another_runtime(detector: Detector, overpass_video: Path):
    pytest.importorskip("openvino")
    twin = Detector(detector.config.model_copy(update={"runtime": "openvino"}))
    with pytest.raises(UserFacingError, match="runtime: onnxruntime"):
        session_variants(twin, letterboxed_blobs(overpass_video, 1, 320))
