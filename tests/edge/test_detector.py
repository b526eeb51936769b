"""Detector behaviour on a real model: filters, batching, errors a person can act on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge.detector import Detector, DetectorConfig, ModelError, ProviderUnavailableError
from edge.detector.resolve import MODEL_ENV_VAR, resolve_model_path


@pytest.fixture(scope="module")
def detector(yolov8n_onnx: Path) -> Detector:
    return Detector(DetectorConfig(model=yolov8n_onnx))


@pytest.fixture(scope="module")
def bus(bus_image: Path) -> np.ndarray:
    image = cv2.imread(str(bus_image))
    assert image is not None
    return image


def test_reads_names_and_input_size_from_metadata(detector: Detector) -> None:
    assert len(detector.names) == 80
    assert detector.names[2] == "car" and detector.names[3] == "motorcycle"
    assert detector.input_size == (640, 640)


def test_boxes_are_in_frame_pixels(detector: Detector, bus: np.ndarray) -> None:
    detections = detector.detect_one(bus)
    height, width = bus.shape[:2]
    assert len(detections) >= 4
    assert detections.xyxy[:, [0, 2]].max() <= width
    assert detections.xyxy[:, [1, 3]].max() <= height
    bus_rows = detections[detections.class_id == detector.names.index("bus")]
    assert len(bus_rows) == 1
    assert bus_rows.xyxy[0, 2] - bus_rows.xyxy[0, 0] > 0.7 * width  # the bus spans the frame


def test_class_filter(yolov8n_onnx: Path, bus: np.ndarray) -> None:
    only_bus = Detector(DetectorConfig(model=yolov8n_onnx, classes=["bus"])).detect_one(bus)
    assert len(only_bus) == 1
    assert set(only_bus.class_id.tolist()) == {5}


def test_confidence_and_min_size_filters(yolov8n_onnx: Path, bus: np.ndarray) -> None:
    strict = Detector(DetectorConfig(model=yolov8n_onnx, confidence=0.8)).detect_one(bus)
    assert len(strict) > 0 and strict.confidence.min() > 0.8
    big = Detector(DetectorConfig(model=yolov8n_onnx, min_box_size=200)).detect_one(bus)
    sides = big.xyxy[:, 2:] - big.xyxy[:, :2]
    assert len(big) > 0 and (sides >= 200).all()


def test_batch_of_frames_equals_frames_one_by_one(
    detector: Detector, bus: np.ndarray, overpass_video: Path
) -> None:
    capture = cv2.VideoCapture(str(overpass_video))
    ok, frame = capture.read()
    capture.release()
    assert ok
    batch = detector.detect([bus, frame, bus])
    assert [len(d) for d in batch] == [len(detector.detect_one(x)) for x in (bus, frame, bus)]
    np.testing.assert_allclose(batch[0].xyxy, batch[2].xyxy)
    np.testing.assert_allclose(batch[1].xyxy, detector.detect_one(frame).xyxy, atol=1e-3)
    assert detector.timings.frames == 1


def test_unknown_class_name_is_refused(yolov8n_onnx: Path) -> None:
    with pytest.raises(ModelError, match=r"unknown class name.*motorbike"):
        Detector(DetectorConfig(model=yolov8n_onnx, classes=["motorbike"]))


def test_missing_provider_lists_available(yolov8n_onnx: Path) -> None:
    with pytest.raises(ProviderUnavailableError, match=r"tensorrt.*available: .*cpu"):
        Detector(DetectorConfig(model=yolov8n_onnx, providers=["tensorrt", "cpu"]))


def test_file_that_is_not_onnx(tmp_path: Path) -> None:
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"this is not a model" * 100)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        Detector(DetectorConfig(model=bogus))


def test_onnx_that_is_not_a_yolo_export(tmp_path: Path) -> None:
    """A valid ONNX classifier (no YOLO metadata, wrong output) is refused with the reason."""
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["logits"], axes=[2, 3], keepdims=0)],
        "classifier",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    path = tmp_path / "classifier.onnx"
    onnx.save(model, path)
    with pytest.raises(ModelError, match="no class names in the ONNX metadata"):
        Detector(DetectorConfig(model=path))
    helper.set_model_props(model, {"names": "{0: 'a', 1: 'b'}", "task": "detect"})
    onnx.save(model, path)
    with pytest.raises(ModelError, match="output shape"):
        Detector(DetectorConfig(model=path))
    helper.set_model_props(model, {"names": "{0: 'a'}", "task": "segment"})
    onnx.save(model, path)
    with pytest.raises(ModelError, match="'segment' model"):
        Detector(DetectorConfig(model=path))


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Detector(DetectorConfig(model=tmp_path / "nope.onnx"))


def test_model_resolution_order(
    yolov8n_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODEL_ENV_VAR, raising=False)
    assert resolve_model_path(None) == yolov8n_onnx
    other = tmp_path / "custom.onnx"
    other.write_bytes(b"x")
    monkeypatch.setenv(MODEL_ENV_VAR, str(other))
    assert resolve_model_path(None) == other
    assert resolve_model_path(yolov8n_onnx) == yolov8n_onnx


def test_checkpoint_without_models_extra_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ultralytics(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("ultralytics"):
            raise ImportError("No module named 'ultralytics'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_ultralytics)
    with pytest.raises(ModelError, match=r"traffic-monitor models export .*models\]"):
        resolve_model_path(tmp_path / "yolov8n.pt")
