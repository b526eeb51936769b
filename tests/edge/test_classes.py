"""The one place model class names become the product's road-user classes."""

from __future__ import annotations

import ast
from pathlib import Path

import cv2
import onnx
import pytest

from edge.detector import Detector, DetectorConfig, ModelError
from edge.detector.classes import covered_road_users, product_name, product_names
from edge.detector.resolve import BUNDLED_MODELS, bundled_model, resolve_model_path
from tests.conftest import require_shared


def test_aliases_and_unknown_names() -> None:
    assert product_name("motorbike") == "motorcycle"
    assert product_name("Without Helmet") == "head_no_helmet"
    assert product_name("helmet") == "head_helmet"
    assert product_name("pedestrian") == "person"
    assert product_name("car") == "car"
    assert product_name("toothbrush") == "toothbrush"


def test_two_names_on_one_class_are_refused() -> None:
    with pytest.raises(ValueError, match="both map to 'motorcycle'"):
        product_names(["motorcycle", "motorbike"])


def test_coverage() -> None:
    assert covered_road_users(("car", "motorcycle", "bicycle", "truck", "bus")) == (
        "bicycle",
        "car",
        "motorcycle",
        "bus",
        "truck",
    )


def _renamed_model(tmp_path: Path, renames: dict[str, str]) -> Path:
    model = onnx.load(str(require_shared("models", "yolov8n.onnx")))
    for prop in model.metadata_props:
        if prop.key == "names":
            names = ast.literal_eval(prop.value)
            prop.value = repr({k: renames.get(v, v) for k, v in names.items()})
    path = tmp_path / "renamed.onnx"
    onnx.save(model, str(path))
    return path


def test_detector_speaks_product_names_whatever_the_model_says(tmp_path: Path) -> None:
    """A model that says 'motorbike' / 'pedestrian' still yields motorcycle / person."""
    path = _renamed_model(tmp_path, {"motorcycle": "motorbike", "person": "pedestrian"})
    detector = Detector(DetectorConfig(model=path, classes=["person", "motorcycle"]))
    assert "motorcycle" in detector.names and "motorbike" not in detector.names
    frame = cv2.imread(str(require_shared("data", "images", "bus.jpg")))
    found = {detector.names[c] for c in detector.detect_one(frame).class_id}
    assert found == {"person"}


def test_model_with_ambiguous_names_is_refused(tmp_path: Path) -> None:
    path = _renamed_model(tmp_path, {"motorcycle": "motorbike", "bicycle": "motor"})
    with pytest.raises(ModelError, match="both map to 'motorcycle'"):
        Detector(DetectorConfig(model=path))


def test_bundled_model_names_resolve_to_committed_files() -> None:
    for name in BUNDLED_MODELS:
        assert resolve_model_path(Path(name)) == bundled_model(name)
    with pytest.raises(ModelError, match="not a bundled model"):
        bundled_model("yolov99")
