"""Object detection with Ultralytics YOLO ONNX exports on ONNX Runtime."""

from edge.detector.config import DetectorConfig
from edge.detector.detector import Detector, StageTimings
from edge.detector.model import ModelError, YoloOnnxModel
from edge.detector.providers import ProviderUnavailableError

__all__ = [
    "Detector",
    "DetectorConfig",
    "ModelError",
    "ProviderUnavailableError",
    "StageTimings",
    "YoloOnnxModel",
]
