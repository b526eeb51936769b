"""Execution-provider selection: what was asked for must exist, or start-up fails clearly."""

from __future__ import annotations

import logging
from typing import Any

import onnxruntime as ort

from edge.detector.config import DetectorConfig, ProviderName
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

ORT_PROVIDER = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
_SHORT_NAME = {value: key for key, value in ORT_PROVIDER.items()}


class ProviderUnavailableError(UserFacingError):
    """A configured execution provider is not available in this ONNX Runtime build."""


def available_providers() -> list[str]:
    """Short names (cpu, cuda, …) of the providers this ONNX Runtime offers."""
    return [_SHORT_NAME.get(name, name) for name in ort.get_available_providers()]


def resolve_providers(config: DetectorConfig) -> list[tuple[str, dict[str, Any]]]:
    """Turn the configured names into ONNX Runtime ``(provider, options)`` pairs.

    Args:
        config: The detector configuration.

    Returns:
        Providers in preference order; CPU is appended as the fallback for unsupported nodes.

    Raises:
        ProviderUnavailableError: A requested provider is not available; the message lists
            those that are.
    """
    installed = set(ort.get_available_providers())
    missing = [name for name in config.providers if ORT_PROVIDER[name] not in installed]
    if missing:
        raise ProviderUnavailableError(
            f"execution provider(s) {', '.join(missing)} not available in this ONNX Runtime "
            f"({ort.__version__}); available: {', '.join(available_providers())}. "
            "Install onnxruntime-gpu for cuda/tensorrt or onnxruntime-openvino for openvino."
        )
    resolved = [(ORT_PROVIDER[name], _options(name, config)) for name in config.providers]
    if "cpu" not in config.providers:
        resolved.append((ORT_PROVIDER["cpu"], {}))
    return resolved


def _options(name: ProviderName, config: DetectorConfig) -> dict[str, Any]:
    if name == "cuda":
        return {"device_id": config.device_id}
    if name == "tensorrt":
        options: dict[str, Any] = {
            "device_id": config.device_id,
            "trt_fp16_enable": config.tensorrt_fp16,
        }
        if config.tensorrt_cache_dir is not None:
            options["trt_engine_cache_enable"] = True
            options["trt_engine_cache_path"] = str(config.tensorrt_cache_dir)
        return options
    return {}


def session_options(config: DetectorConfig) -> ort.SessionOptions:
    """ONNX Runtime session options with the configured thread counts."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if config.intra_op_threads:
        options.intra_op_num_threads = config.intra_op_threads
    if config.inter_op_threads:
        options.inter_op_num_threads = config.inter_op_threads
    return options
