"""The OpenVINO CPU runtime over the same Ultralytics ONNX export (``runtime: openvino``).

OpenVINO reads the ONNX file directly (no conversion step or cache), and the model's
metadata (class names, imgsz, stride) is validated by the same parser as ONNX Runtime's
(:func:`edge.detector.model.parse_model_info`). The letterbox, decoding, NMS and the class
filter stay the detector's own. The step from the letterboxed uint8 BGR image to the float
RGB blob (type, channel order, 1/255, layout) is compiled into the network with OpenVINO's
``PrePostProcessor`` (``openvino_fused_preprocess``), where it costs next to nothing,
instead of running in numpy before the call.

Needs the ``openvino`` extra (``pip install '.[openvino]'``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edge.detector.config import DetectorConfig
from edge.detector.model import Dim, ModelError, ModelInfo, TensorSpec, parse_model_info
from edge.detector.preprocess import to_blob
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

METADATA_KEYS = ("names", "imgsz", "stride", "task", "description")
"""ONNX metadata entries the detector reads (OpenVINO keeps them under ``framework``)."""
PRECISION_NAMES = {"f32": "f32", "float32": "f32", "bf16": "bf16", "f16": "f16", "float16": "f16"}
"""OpenVINO's names of an element type, as this config spells them."""


class RuntimeUnavailableError(UserFacingError):
    """The configured inference runtime is not installed."""


def import_openvino() -> ModuleType:
    """The ``openvino`` module.

    Raises:
        RuntimeUnavailableError: It is not installed; the message says how to install it.
    """
    try:
        import openvino
    except ImportError as exc:
        raise RuntimeUnavailableError(
            "detector runtime 'openvino' needs the openvino package, which is not installed: "
            "pip install '.[openvino]' (or pip install openvino), or set the detector's "
            "runtime to onnxruntime"
        ) from exc
    module: ModuleType = openvino
    return module


class OpenVinoYoloModel:
    """A YOLO detection export compiled for OpenVINO's CPU plugin (latency hint).

    Attributes:
        path: The ONNX file.
        info: Class names, input size, batch… (same as :class:`YoloOnnxModel`).
        precision: The precision OpenVINO actually runs (``f32``, ``bf16``, ``f16``): the
            requested one, or f32 where the CPU lacks it.
        fused_preprocess: The network takes letterboxed uint8 BGR images ``(B, H, W, 3)``
            and converts them itself (``openvino_fused_preprocess``).
    """

    def __init__(self, path: Path, config: DetectorConfig) -> None:
        """Read, validate and compile the model.

        Args:
            path: The ONNX file.
            config: Detector configuration (``openvino_precision``, ``intra_op_threads``).

        Raises:
            RuntimeUnavailableError: The openvino package is not installed.
            ModelError: The file is missing, not loadable, or not a YOLO detection export.
        """
        ov = import_openvino()
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        core = ov.Core()
        try:
            network = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError and others
            raise ModelError(f"{path} is not a loadable ONNX model: {exc}") from exc
        self.path = path
        self.info: ModelInfo = parse_model_info(
            _metadata(network, path),
            [TensorSpec(port.get_any_name(), _shape(port)) for port in network.inputs],
            [TensorSpec(port.get_any_name(), _shape(port)) for port in network.outputs],
            path,
        )
        if self.info.dynamic_size and config.imgsz:
            self.info = replace(self.info, input_size=(config.imgsz, config.imgsz))
        self.fused_preprocess = config.openvino_fused_preprocess
        self._core, self._properties = core, compile_properties(config)
        self._compiled: dict[tuple[int, int], Any] = {}
        self._compile_lock = threading.Lock()
        self._requests = threading.local()
        compiled = self._compiled_for(self.info.input_size, network)
        self.precision = _precision_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
        _log_loaded(self, config)

    def _compiled_for(self, size: tuple[int, int], network: Any = None) -> Any:
        """The network compiled for one input ``(height, width)``, compiled on first use.

        OpenVINO compiles static shapes best, so a dynamic-size export (fitted to each camera
        by the detector) is compiled once per input shape it meets (one per camera aspect
        ratio and size) instead of being pinned to its square imgsz.
        """
        compiled = self._compiled.get(size)
        if compiled is not None:
            return compiled
        with self._compile_lock:
            if size not in self._compiled:
                ov = import_openvino()
                source = network if network is not None else self._core.read_model(str(self.path))
                _fix_image_size(ov, source, replace(self.info, input_size=size))
                prepared = _with_fused_preprocess(ov, source) if self.fused_preprocess else source
                self._compiled[size] = self._core.compile_model(prepared, "CPU", self._properties)
                logger.info("%s: compiled for input %dx%d", self.path.name, size[1], size[0])
            return self._compiled[size]

    def prepare(self, images: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        """The network input for letterboxed BGR ``(H, W, 3)`` uint8 images.

        The images stacked as they are with the fused pre-processing, else the float RGB
        blob of :func:`~edge.detector.preprocess.to_blob`.
        """
        if self.fused_preprocess:
            return np.stack(images)
        return to_blob(images)

    def run(self, blob: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Run the network on what :meth:`prepare` returned; returns ``(B, 4+nc, N)``.

        Each calling thread has its own infer request; the output is a copy the caller owns.
        """
        size = (blob.shape[1], blob.shape[2]) if self.fused_preprocess else blob.shape[2:4]
        requests: dict[tuple[int, int], Any] = self._requests.__dict__.setdefault("by_size", {})
        request = requests.get(size)
        if request is None:
            request = self._compiled_for((int(size[0]), int(size[1]))).create_infer_request()
            requests[size] = request
        dtype = np.uint8 if self.fused_preprocess else np.float32
        results = request.infer({0: np.ascontiguousarray(blob, dtype)}, share_inputs=True)
        return np.asarray(results[0])


def compile_properties(config: DetectorConfig) -> dict[str, str]:
    """OpenVINO CPU compile properties for a detector configuration."""
    properties = {"PERFORMANCE_HINT": "LATENCY"}
    if config.openvino_precision != "auto":
        properties["INFERENCE_PRECISION_HINT"] = config.openvino_precision
    if config.intra_op_threads:
        properties["INFERENCE_NUM_THREADS"] = str(config.intra_op_threads)
    return properties


def _with_fused_preprocess(ov: ModuleType, network: Any) -> Any:
    """``network`` taking letterboxed uint8 BGR ``(B, H, W, 3)`` images instead of the blob.

    OpenVINO's ``PrePostProcessor`` adds the steps of
    :func:`~edge.detector.preprocess.to_blob` (to float, BGR to RGB, divide by 255, to
    channels-first) in front of the network, where the compiler folds them into the first
    convolution's input.
    """
    from openvino.preprocess import ColorFormat, PrePostProcessor

    steps = PrePostProcessor(network)
    steps.input().tensor().set_element_type(ov.Type.u8).set_layout(
        ov.Layout("NHWC")
    ).set_color_format(ColorFormat.BGR)
    steps.input().model().set_layout(ov.Layout("NCHW"))
    steps.input().preprocess().convert_element_type(ov.Type.f32).convert_color(
        ColorFormat.RGB
    ).scale(255.0)
    return steps.build()


def _metadata(network: Any, path: Path) -> dict[str, str]:
    """The ONNX metadata entries OpenVINO keeps in the model's ``framework`` rt_info.

    Falls back to ONNX Runtime's reader when this OpenVINO does not carry them.
    """
    meta = {
        key: _rt_text(network.get_rt_info(["framework", key]))
        for key in METADATA_KEYS
        if network.has_rt_info(["framework", key])
    }
    if "names" in meta:
        return meta
    logger.info("%s: OpenVINO carries no ONNX metadata; reading it with ONNX Runtime", path.name)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return dict(session.get_modelmeta().custom_metadata_map)


def _rt_text(value: Any) -> str:
    """An rt_info entry as text (as written in the ONNX metadata)."""
    return str(value.astype(str)) if hasattr(value, "astype") else str(value)


def _shape(port: Any) -> list[Dim]:
    """A port's partial shape with dynamic dimensions as None."""
    return [dim.get_length() if dim.is_static else None for dim in port.get_partial_shape()]


def _fix_image_size(ov: ModuleType, network: Any, info: ModelInfo) -> None:
    """Pin a dynamic-size export to ``info.input_size`` (batch stays dynamic where it is)."""
    shape = network.inputs[0].get_partial_shape()
    if shape.is_static:
        return
    batch = info.fixed_batch if not info.dynamic_batch else -1
    network.reshape(ov.PartialShape([batch, 3, *info.input_size]))


def _precision_name(value: Any) -> str:
    name = str(value.get_type_name()) if hasattr(value, "get_type_name") else str(value)
    return PRECISION_NAMES.get(name.lower(), name)


def _log_loaded(model: OpenVinoYoloModel, config: DetectorConfig) -> None:
    info = model.info
    logger.info(
        "loaded %s on OpenVINO (CPU, %s): %d classes, input %sx%s, batch %s",
        model.path.name,
        model.precision,
        len(info.names),
        *info.input_size,
        "dynamic" if info.dynamic_batch else info.fixed_batch,
    )
    wanted = config.openvino_precision
    if wanted not in ("auto", model.precision):
        logger.warning(
            "openvino_precision %s is not supported by this CPU; OpenVINO runs %s",
            wanted,
            model.precision,
        )
