"""Object detection with Ultralytics YOLO ONNX exports on ONNX Runtime or OpenVINO."""

from edge.detector.config import DetectorConfig
from edge.detector.detector import Detector, StageTimings, load_network
from edge.detector.model import ModelError, NetworkRunner, YoloOnnxModel
from edge.detector.openvino_model import OpenVinoYoloModel, RuntimeUnavailableError
from edge.detector.providers import ProviderUnavailableError

__all__ = [
    "Detector",
    "DetectorConfig",
    "ModelError",
    "NetworkRunner",
    "OpenVinoYoloModel",
    "ProviderUnavailableError",
    "RuntimeUnavailableError",
    "StageTimings",
    "YoloOnnxModel",
    "load_network",
]
