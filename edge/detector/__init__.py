"""Object detection with Ultralytics YOLO ONNX exports on ONNX Runtime, OpenVINO or PyTorch."""

from edge.detector.config import DetectorConfig
from edge.detector.detector import Detector, StageTimings, load_network
from edge.detector.model import ModelError, NetworkRunner, YoloOnnxModel
from edge.detector.openvino_model import OpenVinoYoloModel, RuntimeUnavailableError
from edge.detector.providers import ProviderUnavailableError
from edge.detector.torch_model import DeviceUnavailableError, TorchYoloModel

__all__ = [
    "Detector",
    "DetectorConfig",
    "DeviceUnavailableError",
    "ModelError",
    "NetworkRunner",
    "OpenVinoYoloModel",
    "ProviderUnavailableError",
    "RuntimeUnavailableError",
    "StageTimings",
    "TorchYoloModel",
    "YoloOnnxModel",
    "load_network",
]
