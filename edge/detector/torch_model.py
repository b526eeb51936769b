"""The PyTorch runtime (``runtime: torch``): the same ONNX export as a ``torch.nn.Module``.

The Ultralytics ONNX export is converted at load with ``onnx2torch`` (Apache-2.0, an 80 kB
pure-Python wheel), so the file that ONNX Runtime and OpenVINO run is the one file a box
carries, and no ``.pt`` checkpoint or Ultralytics is needed on the hot path. The module runs
on the CPU or on a CUDA device (``device``), in FP16 and channels-last on CUDA
(``torch_half``), optionally compiled (``torch_compile``).

On this runtime the whole detection step of a batch stays on the device
(:meth:`TorchYoloModel.detect_frames`): the frames are uploaded as uint8, letterboxed
(bilinear resize, grey padding), turned from BGR to RGB and scaled there, the network runs
on the batch, and the head is decoded with class-aware NMS (``torchvision.ops.batched_nms``)
over every frame of the batch at once; the kept boxes of the whole batch come back in one
copy. The letterbox geometry, thresholds and box mapping are those of
:mod:`edge.detector.preprocess` and :mod:`edge.detector.postprocess`, so the detections are
ONNX Runtime's (tested: same classes, IoU >= 0.95, scores within 0.01 in FP32).

Needs the ``torch`` extra (``pip install '.[torch]'``): torch and torchvision are imported
only when this runtime is chosen, so a box without them runs the other runtimes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edge.detections import Detections
from edge.detector.config import DetectorConfig
from edge.detector.model import Dim, ModelError, ModelInfo, TensorSpec, parse_model_info
from edge.detector.openvino_model import RuntimeUnavailableError
from edge.detector.postprocess import MAX_NMS_CANDIDATES, PostprocessParams
from edge.detector.preprocess import PAD_VALUE, Letterbox, letterbox_geometry, to_blob
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)

Frame = np.ndarray[Any, Any]


NEWER_OPSETS = {("Split", 18): 13, ("Resize", 18): 13, ("Resize", 19): 13, ("Reshape", 19): 14}
"""Operator versions of recent Ultralytics exports (opset 18 to 20) that onnx2torch 1.5 lacks,
converted as the older version: Split 18 only adds ``num_outputs`` (equal parts, as the
Split 13 converter splits when no sizes are given), Reshape 19 only widens the types, and
Resize 18 / 19 add attributes (``antialias``, ``axes``, ``keep_aspect_ratio_policy``, the
``half_pixel_symmetric`` mode) that YOLO's nearest upsampling never sets; a model that sets
them is refused (:func:`_check_newer_resize`)."""
RESIZE_ADDITIONS = ("antialias", "axes", "keep_aspect_ratio_policy")


class DeviceUnavailableError(UserFacingError):
    """The configured torch device (a CUDA GPU) is not there."""


@dataclass(frozen=True)
class _Torch:
    """The lazily imported modules of this runtime."""

    torch: ModuleType
    functional: ModuleType
    ops: ModuleType
    onnx: ModuleType
    onnx2torch: ModuleType


def import_torch() -> _Torch:
    """torch, torchvision.ops, onnx and onnx2torch.

    Raises:
        RuntimeUnavailableError: One is not installed; the message says how to install them.
    """
    try:
        import onnx
        import onnx2torch
        import torch
        from torch.nn import functional
        from torchvision import ops
    except ImportError as exc:
        raise RuntimeUnavailableError(
            f"detector runtime 'torch' needs torch, torchvision, onnx and onnx2torch ({exc}): "
            "pip install '.[torch]', or set the detector's runtime to onnxruntime"
        ) from exc
    return _Torch(torch, functional, ops, onnx, onnx2torch)


def torch_device(modules: _Torch, name: str) -> Any:
    """The ``torch.device`` for a configured ``device``.

    Raises:
        DeviceUnavailableError: A CUDA device is asked for and PyTorch has no such GPU.
    """
    torch = modules.torch
    device = torch.device(name)
    if device.type != "cuda":
        return device
    if not torch.cuda.is_available():
        raise DeviceUnavailableError(
            f"detector device {name}: PyTorch {torch.__version__} sees no CUDA GPU here "
            f"(CUDA build: {torch.version.cuda or 'none'}); set the detector's device to cpu, "
            "or install a CUDA build of torch on a machine with an NVIDIA GPU"
        )
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise DeviceUnavailableError(
            f"detector device {name}: this machine has {torch.cuda.device_count()} CUDA "
            f"GPU(s), cuda:0 to cuda:{torch.cuda.device_count() - 1}"
        )
    return torch.device("cuda", index)


class TorchYoloModel:
    """A YOLO detection export converted to PyTorch, on the CPU or a CUDA device.

    Attributes:
        path: The ONNX file.
        info: Class names, input size, batch… (same as :class:`YoloOnnxModel`).
        device: The ``torch.device`` it runs on.
        half: The network runs in FP16 (CUDA with ``torch_half``).
    """

    def __init__(self, path: Path, config: DetectorConfig) -> None:
        """Read, validate and convert the model, and move it to the device.

        Args:
            path: The ONNX file.
            config: Detector configuration (``device``, ``torch_half``, ``torch_compile``,
                ``intra_op_threads``).

        Raises:
            RuntimeUnavailableError: torch, torchvision, onnx or onnx2torch is not installed.
            DeviceUnavailableError: The configured CUDA device is not there.
            ModelError: The file is missing, not ONNX, not a YOLO detection export, or has an
                operator onnx2torch cannot convert (a quantised export).
        """
        self._t = import_torch()
        torch = self._t.torch
        self.device = torch_device(self._t, config.device)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist")
        proto = self._read(path)
        self.path = path
        self.info: ModelInfo = _model_info(proto, path)
        if self.info.dynamic_size and config.imgsz:
            self.info = replace(self.info, input_size=(config.imgsz, config.imgsz))
        self.half = self.device.type == "cuda" and config.torch_half
        self.dtype = torch.float16 if self.half else torch.float32
        if self.device.type == "cpu" and config.intra_op_threads:
            torch.set_num_threads(config.intra_op_threads)
        self.network = self._convert(proto, config)
        logger.info(
            "loaded %s on PyTorch %s (%s, %s%s): %d classes, input %sx%s",
            path.name,
            torch.__version__,
            self.device,
            "fp16" if self.half else "fp32",
            f", compiled {config.torch_compile}" if config.torch_compile != "off" else "",
            len(self.info.names),
            *self.info.input_size,
        )

    def _read(self, path: Path) -> Any:
        try:
            return self._t.onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError and others
            raise ModelError(f"{path} is not a loadable ONNX model: {exc}") from exc

    def _convert(self, proto: Any, config: DetectorConfig) -> Any:
        """The ONNX graph as an eval-mode module on the device, FP16 / channels-last on CUDA."""
        _check_newer_resize(proto, self.path)
        _register_newer_opsets()
        try:
            module = self._t.onnx2torch.convert(proto)
        except Exception as exc:  # onnx2torch raises NotImplementedError, KeyError…
            raise ModelError(
                f"{self.path}: onnx2torch cannot convert it ({exc}); an FP32 export is needed "
                "(quantised exports run on onnxruntime or openvino)"
            ) from exc
        module = module.eval().to(self.device, dtype=self.dtype)
        if self.device.type == "cuda":
            module = module.to(memory_format=self._t.torch.channels_last)
        if config.torch_compile != "off":
            module = self._t.torch.compile(module, mode=config.torch_compile, dynamic=False)
        return module

    def prepare(self, images: Sequence[Frame]) -> np.ndarray[Any, Any]:
        """An RGB ``(B, 3, H, W)`` float32 blob in [0, 1] (:func:`to_blob`), as ONNX Runtime's."""
        return to_blob(images)

    def run(self, blob: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Run the network on a ``(B, 3, H, W)`` float32 blob; returns ``(B, 4+nc, N)``."""
        torch = self._t.torch
        with torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(blob)).to(self.device, self.dtype)
            output = self.forward(tensor)
            return np.asarray(output.float().cpu().numpy())

    def forward(self, tensor: Any) -> Any:
        """The network on a device tensor ``(B, 3, H, W)`` in its dtype; the head output."""
        if self.device.type == "cuda":
            tensor = tensor.contiguous(memory_format=self._t.torch.channels_last)
        output = self.network(tensor)
        return output[0] if isinstance(output, list | tuple) else output

    def _forward_batched(self, batch: Any) -> Any:
        """:meth:`forward` on a batch; a fixed-batch export runs its own batch size per call."""
        size = self.info.fixed_batch
        if self.info.dynamic_batch or len(batch) == size:
            return self.forward(batch)
        chunks = [self.forward(batch[i : i + size]) for i in range(0, len(batch), size)]
        return self._t.torch.cat(chunks)

    def detect_frames(
        self, frames: Sequence[Frame], shape: tuple[int, int], params: PostprocessParams
    ) -> list[Detections]:
        """Letterbox, network, decode and NMS of a batch on the device, one copy back.

        Args:
            frames: BGR ``(h, w, 3)`` uint8 frames (sizes may differ).
            shape: The network input ``(height, width)`` every frame is letterboxed to.
            params: Thresholds and filters (as :func:`~edge.detector.postprocess.decode`).

        Returns:
            One :class:`Detections` per frame, boxes in that frame's pixels, the same as the
            ONNX Runtime path's.
        """
        torch = self._t.torch
        with torch.inference_mode():
            batch, transforms = self.letterbox(frames, shape)
            output = self._forward_batched(batch).float()
            return self.decode(output, transforms, frames, params)

    def letterbox(
        self, frames: Sequence[Frame], shape: tuple[int, int]
    ) -> tuple[Any, list[Letterbox]]:
        """The network input ``(B, 3, H, W)`` of uint8 BGR frames, made on the device.

        The same geometry as :func:`~edge.detector.preprocess.letterbox` (bilinear resize with
        half-pixel centres like OpenCV's ``INTER_LINEAR``, rounded to whole grey levels as a
        uint8 image is, grey 114 padding), then BGR to RGB and 1/255. Frames of one size are
        uploaded and resized together.
        """
        torch = self._t.torch
        batch = torch.full(
            (len(frames), 3, *shape), float(PAD_VALUE), dtype=torch.float32, device=self.device
        )
        transforms: list[Letterbox] = []
        for frame in frames:
            fit = letterbox_geometry((frame.shape[0], frame.shape[1]), shape)
            transforms.append(fit.transform)
        for rows, (height, width) in _rows_by_size(frames).items():
            fit = letterbox_geometry((height, width), shape)
            resized = self._resized(np.stack([frames[row] for row in rows]), fit.height, fit.width)
            top, left = fit.transform.pad_y, fit.transform.pad_x
            batch[list(rows), :, top : top + fit.height, left : left + fit.width] = resized
        batch = batch.mul_(1.0 / 255.0).to(self.dtype)
        return batch, transforms

    def _resized(self, images: np.ndarray[Any, Any], height: int, width: int) -> Any:
        """Uint8 BGR ``(n, h, w, 3)`` images as float RGB ``(n, 3, height, width)``, on device."""
        torch = self._t.torch
        source = torch.from_numpy(images).to(self.device, non_blocking=True)
        planes = source.permute(0, 3, 1, 2).flip(1).float()
        if planes.shape[2:] == (height, width):
            return planes
        resized = self._t.functional.interpolate(
            planes, size=(height, width), mode="bilinear", align_corners=False, antialias=False
        )
        return resized.round_().clamp_(0.0, 255.0)

    def decode(
        self,
        output: Any,
        transforms: Sequence[Letterbox],
        frames: Sequence[Frame],
        params: PostprocessParams,
    ) -> list[Detections]:
        """Head output ``(B, 4+nc, N)`` to detections: filter, class-aware NMS, frame boxes.

        As :func:`~edge.detector.postprocess.decode`, for the whole batch at once: candidates
        above the confidence (best class per anchor, among the kept classes), at most
        :data:`MAX_NMS_CANDIDATES` per frame, NMS per frame and class (one ``batched_nms``
        call, frames and classes as its groups), boxes mapped back to each frame and clipped;
        then one copy to the host, where the per-frame cap and the size filter are applied.
        """
        torch = self._t.torch
        scores = output[:, 4:]
        class_ids = None
        if params.class_mask is not None:
            class_ids = torch.as_tensor(np.flatnonzero(params.class_mask), device=self.device)
            scores = scores[:, class_ids]
        best_score, best = scores.max(dim=1)
        image, anchor = (best_score > params.confidence).nonzero(as_tuple=True)
        score = best_score[image, anchor]
        image, anchor, score = self._capped(image, anchor, score)
        label = best[image, anchor]
        if class_ids is not None:
            label = class_ids[label]
        cxcywh = output[image, :4, anchor]
        xyxy = torch.cat([cxcywh[:, :2] - cxcywh[:, 2:] / 2, cxcywh[:, :2] + cxcywh[:, 2:] / 2], 1)
        groups = image * output.shape[1] + label
        kept = self._t.ops.batched_nms(xyxy, score, groups, params.iou)
        boxes = self._to_frames(xyxy[kept], image[kept], transforms, frames)
        rows = torch.cat([boxes, score[kept, None], label[kept, None], image[kept, None]], 1)
        return _split(rows.cpu().numpy(), len(frames), params)

    def _capped(self, image: Any, anchor: Any, score: Any) -> tuple[Any, Any, Any]:
        """The :data:`MAX_NMS_CANDIDATES` best candidates of each frame (all, almost always)."""
        torch = self._t.torch
        if image.numel() <= MAX_NMS_CANDIDATES:
            return image, anchor, score
        order = torch.argsort(score, descending=True, stable=True)
        order = order[torch.argsort(image[order], stable=True)]
        counts = torch.bincount(image, minlength=1)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.arange(order.numel(), device=order.device) - starts[image[order]]
        keep = order[rank < MAX_NMS_CANDIDATES]
        return image[keep], anchor[keep], score[keep]

    def _to_frames(
        self, xyxy: Any, image: Any, transforms: Sequence[Letterbox], frames: Sequence[Frame]
    ) -> Any:
        """Boxes from network-input pixels to their frame's pixels, clipped to the frame."""
        torch = self._t.torch
        table = torch.tensor(
            [
                [t.pad_x, t.pad_y, t.gain, frame.shape[1], frame.shape[0]]
                for t, frame in zip(transforms, frames, strict=True)
            ],
            dtype=torch.float32,
            device=self.device,
        )[image]
        pads = table[:, [0, 1, 0, 1]]
        limits = table[:, [3, 4, 3, 4]]
        boxes = (xyxy - pads) / table[:, 2:3]
        return torch.minimum(boxes.clamp(min=0.0), limits)


def _rows_by_size(frames: Sequence[Frame]) -> dict[tuple[int, ...], tuple[int, int]]:
    """Batch rows grouped by frame ``(height, width)``: rows → size."""
    groups: dict[tuple[int, int], list[int]] = {}
    for row, frame in enumerate(frames):
        groups.setdefault((frame.shape[0], frame.shape[1]), []).append(row)
    return {tuple(rows): size for size, rows in groups.items()}


def _split(rows: np.ndarray[Any, Any], frames: int, params: PostprocessParams) -> list[Detections]:
    """Host rows ``x1 y1 x2 y2 score class frame`` (best first) as detections per frame."""
    results: list[Detections] = []
    for index in range(frames):
        mine = rows[rows[:, 6] == index][: params.max_detections]
        detections = Detections(
            xyxy=mine[:, :4].astype(np.float32),
            confidence=mine[:, 4].astype(np.float32),
            class_id=mine[:, 5].astype(np.int64),
        )
        if params.min_box_size > 0:
            wh = detections.xyxy[:, 2:] - detections.xyxy[:, :2]
            large = np.asarray((wh >= params.min_box_size).all(axis=1), dtype=np.bool_)
            detections = detections[large]
        results.append(detections)
    return results


def _model_info(proto: Any, path: Path) -> ModelInfo:
    """Validate the export from its ONNX metadata and graph shapes (as the other runtimes)."""
    meta = {prop.key: prop.value for prop in proto.metadata_props}
    graph = proto.graph
    initialisers = {init.name for init in graph.initializer}
    inputs = [spec for spec in graph.input if spec.name not in initialisers]
    return parse_model_info(
        meta,
        [TensorSpec(spec.name, _shape(spec)) for spec in inputs],
        [TensorSpec(spec.name, _shape(spec)) for spec in graph.output],
        path,
    )


def _shape(spec: Any) -> list[Dim]:
    """A graph value's shape, dynamic dimensions as their name (or None)."""
    dims: list[Dim] = []
    for dim in spec.type.tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or None)
    return dims


def _register_newer_opsets() -> None:
    """Let onnx2torch convert the :data:`NEWER_OPSETS` versions as their older version."""
    from onnx2torch.node_converters.registry import add_converter, get_converter

    for (operation, version), older in NEWER_OPSETS.items():
        try:
            get_converter(operation, version)
        except NotImplementedError:
            add_converter(operation, version)(get_converter(operation, older))
            logger.debug("onnx2torch: %s %d converted as %d", operation, version, older)


def _check_newer_resize(proto: Any, path: Path) -> None:
    """Refuse a Resize that uses what its opset 18 / 19 versions added (not converted)."""
    for node in proto.graph.node:
        if node.op_type != "Resize":
            continue
        attributes = {attribute.name: attribute for attribute in node.attribute}
        mode = attributes.get("coordinate_transformation_mode")
        symmetric = mode is not None and mode.s == b"half_pixel_symmetric"
        added = [name for name in RESIZE_ADDITIONS if name in attributes and _set(attributes[name])]
        if added or symmetric:
            raise ModelError(
                f"{path}: Resize node {node.name} uses {added or ['half_pixel_symmetric']}, "
                "which the torch runtime does not convert; run it on onnxruntime or openvino"
            )


def _set(attribute: Any) -> bool:
    """Whether an ONNX attribute holds a non-default (non-zero, non-empty) value."""
    return bool(attribute.i or attribute.ints or attribute.s)
