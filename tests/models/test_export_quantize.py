"""Export, FP16 conversion and static INT8 quantisation give loadable models that stay close."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from models.export import ExportOptions, convert_fp16, export_onnx
from models.metrics import box_iou
from models.quantize import QuantizeOptions, float_nodes, quantize_static_model
from tests.conftest import require_shared


def video_frames(path: Path, count: int, step: int = 60) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    index = 0
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        if index % step == 0:
            frames.append(frame)
        index += 1
    capture.release()
    assert frames, f"no frame read from {path}"
    return frames


def agreement(reference: Detections, candidate: Detections, min_score: float = 0.4) -> float:
    """Share of confident reference boxes found again (same class, IoU >= 0.5)."""
    ref = reference[reference.confidence >= min_score]
    if len(ref) == 0:
        return 1.0
    ious = box_iou(ref.xyxy, candidate.xyxy)
    same = ref.class_id[:, None] == candidate.class_id[None, :]
    return float(np.mean(((ious >= 0.5) & same).any(axis=1)))


def detect_all(model: Path, frames: list[np.ndarray]) -> list[Detections]:
    detector = Detector(DetectorConfig(model=model, confidence=0.25))
    return [detector.detect_one(frame) for frame in frames]


@pytest.fixture(scope="module")
def frames(overpass_video: Path, intersection_video: Path) -> list[np.ndarray]:
    return video_frames(overpass_video, 3) + video_frames(intersection_video, 3)


def test_head_post_processing_is_kept_float(yolov8n_onnx: Path, yolo11n_320_onnx: Path):
    for path, head in ((yolov8n_onnx, "/model.22/"), (yolo11n_320_onnx, "/model.23/")):
        keep = float_nodes(onnx.load(str(path)))
        assert any(name.startswith(f"{head}dfl/") for name in keep)
        assert f"{head}Concat" in keep or any(n.startswith(f"{head}Concat") for n in keep)
        # the box/class conv branches (but their last 1x1 convs) are quantised
        assert not any("cv2.0.0" in name for name in keep)
        assert any("cv2.0.2" in name for name in keep)
        assert not any(name.startswith("/model.5/") for name in keep)


def test_static_int8_loads_and_stays_close(yolo11n_320_onnx: Path, frames, tmp_path: Path):
    images = require_shared("data", "detection", "images")
    out = tmp_path / "int8.onnx"
    report = quantize_static_model(
        yolo11n_320_onnx, out, [images], QuantizeOptions(frames=8, method="minmax")
    )
    assert report["bytes_int8"] < report["bytes_float"] / 2
    graph = onnx.load(str(out))
    assert any(node.op_type == "QuantizeLinear" for node in graph.graph.node)
    assert {p.key for p in graph.metadata_props} >= {"names", "imgsz"}
    reference, quantised = detect_all(yolo11n_320_onnx, frames), detect_all(out, frames)
    assert sum(len(d) for d in reference) > 10
    scores = [agreement(r, q) for r, q in zip(reference, quantised, strict=True)]
    assert np.mean(scores) >= 0.7, scores


def test_fp16_conversion_keeps_detections(yolo11n_320_onnx: Path, frames, tmp_path: Path):
    out = tmp_path / "fp16.onnx"
    convert_fp16(yolo11n_320_onnx, out)
    assert out.stat().st_size < yolo11n_320_onnx.stat().st_size * 0.6
    reference, half = detect_all(yolo11n_320_onnx, frames), detect_all(out, frames)
    scores = [agreement(r, h) for r, h in zip(reference, half, strict=True)]
    assert np.mean(scores) >= 0.95, scores


@pytest.mark.models
def test_export_pt_to_dynamic_onnx_matches_the_float_model(
    yolo11n_320_onnx: Path, frames, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("ultralytics")
    weights = require_shared("models", "yolo11n.pt")
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path / "cfg"))
    out = export_onnx(weights, ExportOptions(imgsz=320, dynamic=True), tmp_path / "y11.onnx")
    detector = Detector(DetectorConfig(model=out))
    assert detector.max_batch == 0  # dynamic batch
    assert detector.input_size == (320, 320)
    assert "motorcycle" in detector.names
    batched = detector.detect(frames[:4])
    reference = detect_all(yolo11n_320_onnx, frames[:4])
    scores = [agreement(r, b) for r, b in zip(reference, batched, strict=True)]
    assert np.mean(scores) >= 0.9, scores


def test_export_refuses_bad_input(tmp_path: Path):
    with pytest.raises(Exception, match="do not exist"):
        export_onnx(tmp_path / "missing.pt", ExportOptions())
    (tmp_path / "m.pt").write_bytes(b"")
    with pytest.raises(Exception, match="multiple of 32"):
        export_onnx(tmp_path / "m.pt", ExportOptions(imgsz=300))


def test_a_dynamic_size_model_needs_the_side_it_will_run_at(tmp_path: Path) -> None:
    """The bundled dynamic-size model is refused by name without --imgsz, not a traceback."""
    from models.quantize import _calibration_size
    from traffic_monitor.errors import UserFacingError

    model = Path("models/weights/coco-yolov8n.onnx")
    with pytest.raises(UserFacingError, match=r"dynamic input size.*--imgsz"):
        quantize_static_model(model, tmp_path / "q.onnx", [tmp_path], QuantizeOptions())
    assert _calibration_size(model, [1, 3, "height", "width"], 960) == (960, 960)
    assert _calibration_size(model, [1, 3, 384, 640], None) == (384, 640)
