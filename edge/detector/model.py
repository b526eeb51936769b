"""Loading an Ultralytics YOLO detection export (v8 / 11 head) and reading its metadata.

The metadata parser (:func:`parse_model_info`) is shared by both runtimes: ONNX Runtime here
(:class:`YoloOnnxModel`) and OpenVINO (:mod:`edge.detector.openvino_model`).
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from edge.detector.config import DetectorConfig
from edge.detector.preprocess import to_blob
from edge.detector.providers import resolve_providers, session_options
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


class ModelError(UserFacingError):
    """The file is not a usable Ultralytics YOLO detection export."""


@dataclass(frozen=True)
class ModelInfo:
    """What the detector needs to know about a model, read from its ONNX metadata."""

    names: tuple[str, ...]
    input_size: tuple[int, int]
    stride: int
    dynamic_batch: bool
    fixed_batch: int
    input_name: str
    output_name: str
    description: str
    dynamic_size: bool = False
    """Height and width are free: any stride multiple runs (the detector fits each frame)."""


Dim = int | str | None
"""One tensor dimension: a size, or a name / None where it is dynamic."""


@dataclass(frozen=True)
class TensorSpec:
    """Name and shape of a network input or output, as the runtime reports it."""

    name: str
    shape: Sequence[Dim]


class NetworkRunner(Protocol):
    """A loaded YOLO network on some runtime: what :class:`~edge.detector.Detector` calls."""

    path: Path
    info: ModelInfo

    def prepare(self, images: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        """The network input for letterboxed BGR ``(H, W, 3)`` uint8 images, one per batch row."""
        ...

    def run(self, blob: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Run the network on what :meth:`prepare` returned; returns ``(B, 4+nc, N)``.

        A blob of several rows may be sliced along its first axis into smaller batches.
        """
        ...


class YoloOnnxModel:
    """An ONNX Runtime session over a YOLO detection export with output ``[B, 4+nc, N]``."""

    def __init__(self, path: Path, config: DetectorConfig) -> None:
        """Open the model and validate that it is a YOLO detection export.

        Args:
            path: The ONNX file.
            config: Detector configuration (providers, threads).

        Raises:
            ModelError: The file is missing, not ONNX, or not a YOLO detection export.
            ProviderUnavailableError: A configured execution provider is not installed.
        """
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        providers = resolve_providers(config)
        try:
            self.session = ort.InferenceSession(
                str(path),
                sess_options=session_options(config),
                providers=[name for name, _ in providers],
                provider_options=[options for _, options in providers],
            )
        except Exception as exc:  # onnxruntime raises several unrelated exception types
            raise ModelError(f"{path} is not a loadable ONNX model: {exc}") from exc
        self.path = path
        self.info = read_model_info(self.session, path)
        logger.info(
            "loaded %s: %d classes, input %sx%s, providers %s",
            path.name,
            len(self.info.names),
            *self.info.input_size,
            self.session.get_providers(),
        )

    def prepare(self, images: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
        """An RGB ``(B, 3, H, W)`` float32 blob in [0, 1] (:func:`to_blob`)."""
        return to_blob(images)

    def run(self, blob: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Run the network on a ``(B, 3, H, W)`` float32 blob; returns ``(B, 4+nc, N)``."""
        (output,) = self.session.run([self.info.output_name], {self.info.input_name: blob})
        return np.asarray(output)


def read_model_info(session: ort.InferenceSession, path: Path) -> ModelInfo:
    """Read and validate class names, input size, stride and batch from an ONNX Runtime session.

    Raises:
        ModelError: With the reason the model is not a YOLO detection export.
    """
    return parse_model_info(
        session.get_modelmeta().custom_metadata_map,
        [TensorSpec(i.name, i.shape) for i in session.get_inputs()],
        [TensorSpec(o.name, o.shape) for o in session.get_outputs()],
        path,
    )


def parse_model_info(
    meta: Mapping[str, str],
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    path: Path,
) -> ModelInfo:
    """Validate an Ultralytics export from its metadata and tensor shapes (any runtime).

    Args:
        meta: The ONNX ``metadata_props`` (names, imgsz, stride, task, description).
        inputs: The network inputs (one image input expected).
        outputs: The network outputs (the first is the detection head).
        path: The model file, for messages.

    Raises:
        ModelError: With the reason the model is not a YOLO detection export.
    """
    if len(inputs) != 1 or len(outputs) < 1:
        raise ModelError(f"{path}: expected one image input and a detection output")
    task = meta.get("task", "detect")
    if task != "detect":
        raise ModelError(f"{path}: this is a '{task}' model; a detection model is needed")
    names = parse_names(meta.get("names"), path)
    input_shape = list(inputs[0].shape)
    if len(input_shape) != 4 or input_shape[1] not in (3, "channels"):
        raise ModelError(f"{path}: input shape {input_shape} is not [B, 3, H, W]")
    input_size = _input_size(meta.get("imgsz"), input_shape, path)
    output_shape = list(outputs[0].shape)
    if len(output_shape) != 3:
        raise ModelError(f"{path}: output shape {output_shape} is not [B, 4+nc, N]")
    channels = output_shape[1]
    if isinstance(channels, int) and channels != 4 + len(names):
        raise ModelError(
            f"{path}: output has {channels} channels, expected 4 + {len(names)} classes "
            "(only YOLOv8 / YOLO11 detection heads without embedded NMS are supported)"
        )
    batch = input_shape[0]
    return ModelInfo(
        names=names,
        input_size=input_size,
        stride=int(meta.get("stride", 32)),
        dynamic_batch=not isinstance(batch, int) or batch <= 0,
        fixed_batch=batch if isinstance(batch, int) and batch > 0 else 0,
        dynamic_size=not all(isinstance(d, int) and d > 0 for d in input_shape[2:]),
        input_name=inputs[0].name,
        output_name=outputs[0].name,
        description=meta.get("description", ""),
    )


def parse_names(raw: str | None, path: Path) -> tuple[str, ...]:
    """Class names from the ``names`` metadata of an Ultralytics export, in class-id order.

    Raises:
        ModelError: The metadata is absent or unreadable.
    """
    if not raw:
        raise ModelError(
            f"{path}: no class names in the ONNX metadata; is it an Ultralytics YOLO export? "
            "Export with `traffic-monitor models export`."
        )
    try:
        parsed = ast.literal_eval(raw)
    except (ValueError, SyntaxError) as exc:
        raise ModelError(f"{path}: unreadable class names in metadata: {raw[:80]!r}") from exc
    if isinstance(parsed, dict):
        keys = sorted(parsed)
        if keys != list(range(len(keys))):
            raise ModelError(f"{path}: class ids in metadata are not 0..{len(keys) - 1}")
        return tuple(str(parsed[key]) for key in keys)
    if isinstance(parsed, list | tuple):
        return tuple(str(name) for name in parsed)
    raise ModelError(f"{path}: class names in metadata are neither a dict nor a list")


def _input_size(raw: str | None, shape: list[Dim], path: Path) -> tuple[int, int]:
    height, width = shape[2], shape[3]
    if isinstance(height, int) and isinstance(width, int) and height > 0 and width > 0:
        return height, width
    if raw:
        size = ast.literal_eval(raw)
        if isinstance(size, int):
            return size, size
        if isinstance(size, list | tuple) and len(size) == 2:
            return int(size[0]), int(size[1])
    raise ModelError(f"{path}: input size is dynamic and the metadata has no imgsz")
