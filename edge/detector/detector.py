"""The detector: letterbox → network (ONNX Runtime or OpenVINO) → decode + NMS, batched."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.detections import Detections
from edge.detector.classes import covered_road_users, product_names
from edge.detector.config import DetectorConfig
from edge.detector.hardware import log_bf16_hint
from edge.detector.model import ModelError, NetworkRunner, YoloOnnxModel
from edge.detector.openvino_model import OpenVinoYoloModel
from edge.detector.postprocess import PostprocessParams, decode
from edge.detector.preprocess import Letterbox, fitted_input_size, letterbox
from edge.detector.resolve import resolve_model_path
from edge.detector.tiling import Tile, crop, merge, tile_boxes
from edge.detector.torch_model import TorchYoloModel

logger = logging.getLogger(__name__)

Frame = np.ndarray[Any, Any]

ALL_CLASSES = "all"
"""``classes: [all]`` keeps every class of the model (the default keeps the road users)."""


@dataclass
class StageTimings:
    """Seconds spent in each stage by the last :meth:`Detector.detect` call."""

    preprocess: float = 0.0
    inference: float = 0.0
    postprocess: float = 0.0
    frames: int = 0


def load_network(path: Path, config: DetectorConfig) -> NetworkRunner:
    """Open the model on the configured runtime (``config.runtime``).

    Raises:
        ModelError: The file is not a usable YOLO detection export.
        ProviderUnavailableError: A configured ONNX Runtime provider is not installed.
        RuntimeUnavailableError: ``runtime: openvino`` without the openvino package, or
            ``runtime: torch`` without the torch extra.
        DeviceUnavailableError: ``runtime: torch`` on a CUDA device that is not there.
    """
    if config.runtime == "openvino":
        return OpenVinoYoloModel(path, config)
    if config.runtime == "torch":
        return TorchYoloModel(path, config)
    return YoloOnnxModel(path, config)


class Detector:
    """Runs a YOLO ONNX export on BGR frames and returns :class:`Detections` per frame.

    Example:
        >>> detector = Detector(DetectorConfig(classes=["car", "motorcycle"]))
        >>> detections = detector.detect_one(frame)
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        """Load the model and prepare the filters.

        Raises:
            ModelError: No usable model, or an unknown class name in ``config.classes``.
            ProviderUnavailableError: A configured execution provider is not installed.
            RuntimeUnavailableError: ``runtime: openvino`` without the openvino package.
        """
        self.config = config or DetectorConfig()
        self.model = load_network(resolve_model_path(self.config.model), self.config)
        log_bf16_hint(self.config)
        try:
            self.names: tuple[str, ...] = product_names(self.model.info.names)
        except ValueError as exc:
            raise ModelError(str(exc)) from exc
        self.input_size: tuple[int, int] = self.model.info.input_size
        self._params = PostprocessParams(
            confidence=self.config.confidence,
            iou=self.config.iou,
            max_detections=self.config.max_detections,
            class_mask=self._class_mask(self.config.classes),
            min_box_size=self.config.min_box_size,
        )
        self.timings = StageTimings()
        self.fits_input = self.config.fit_input and self.model.info.dynamic_size
        self.imgsz = self._checked_imgsz(self.config.imgsz)
        tiles = self.config.tiles
        self.tile_imgsz = self._checked_imgsz(tiles.imgsz) if tiles and tiles.imgsz else self.imgsz
        self._fit_checked: tuple[int, int] | None = None

    def _checked_imgsz(self, wanted: int | None) -> int:
        """The input long side to run at: ``wanted`` on a dynamic-size model, else its own.

        A fixed-size model runs at its own size whatever is asked (said once in the log, with
        the export that would honour it), so a config written for the default dynamic model
        still runs with a fixed export given on the command line.

        Raises:
            ModelError: A size off the stride grid.
        """
        own = max(self.input_size)
        if wanted is None or wanted == own:
            return own
        if not self.model.info.dynamic_size:
            logger.warning(
                "detector imgsz %d: %s has a fixed %dx%d input and runs at that size; for %d "
                "use a dynamic-size export (traffic-monitor models export WEIGHTS --dynamic, "
                "or the bundled coco-yolov8n)",
                wanted,
                self.model.path.name,
                self.input_size[1],
                self.input_size[0],
                wanted,
            )
            return own
        stride = self.model.info.stride
        if wanted % stride:
            raise ModelError(f"detector imgsz {wanted} is not a multiple of the stride {stride}")
        return wanted

    @property
    def max_batch(self) -> int:
        """Frames per network call: 0 means any number (dynamic batch)."""
        info = self.model.info
        return 0 if info.dynamic_batch else info.fixed_batch

    def class_ids(self, names: Sequence[str]) -> list[int]:
        """Map class names to the model's class ids.

        Raises:
            ModelError: A name is not one of the model's classes.
        """
        unknown = [name for name in names if name not in self.names]
        if unknown:
            raise ModelError(
                f"unknown class name(s) {', '.join(unknown)}; this model has: "
                f"{', '.join(self.names)}"
            )
        return [self.names.index(name) for name in names]

    def detect_one(self, frame: Frame) -> Detections:
        """Detect objects in one BGR frame."""
        return self.detect([frame])[0]

    def detect(self, frames: Sequence[Frame]) -> list[Detections]:
        """Detect objects in several BGR frames (e.g. one per camera) with batched inference.

        Frames may differ in size. When the model has a fixed batch of 1 they run one by one.
        With a dynamic-size model each frame is fitted to its own aspect ratio
        (:meth:`input_size_for`), and frames fitted to the same shape share a call.

        Returns:
            One :class:`Detections` per frame, boxes in that frame's pixels.
        """
        if not frames:
            return []
        self._check_fit(frames[0].shape[1], frames[0].shape[0])
        if self.config.tiles is not None:
            return self._detect_tiled(frames)
        return self._detect_images(frames, [self.imgsz] * len(frames))

    def input_size_for(self, frame: Frame, imgsz: int | None = None) -> tuple[int, int]:
        """The network input ``(height, width)`` a frame (or tile) is letterboxed to.

        The model's own size; with a dynamic-size model the square ``imgsz`` (default: the
        configured one), or with ``fit_input`` the size fitted to the frame's aspect ratio at
        that long side (:func:`~edge.detector.preprocess.fitted_input_size`).
        """
        if not self.model.info.dynamic_size:
            return self.input_size
        side = imgsz or self.imgsz
        if not self.fits_input:
            return side, side
        height, width = frame.shape[:2]
        try:
            return fitted_input_size(side, (width, height), self.model.info.stride)
        except ValueError:  # an imgsz off the stride grid: run it as it is
            return side, side

    def _detect_images(self, images: Sequence[Frame], sizes: Sequence[int]) -> list[Detections]:
        """Detect in images, each at its input long side; one batch per input shape."""
        shapes = [
            self.input_size_for(image, size) for image, size in zip(images, sizes, strict=True)
        ]
        if len(set(shapes)) == 1:
            results, self.timings = self._detect_at(images, shapes[0])
            return results
        return self._detect_by_shape(images, shapes)

    def _detect_tiled(self, frames: Sequence[Frame]) -> list[Detections]:
        """Full frames and their tiles in one batch, tile boxes moved back and merged."""
        tiles = self.config.tiles
        assert tiles is not None
        images: list[Frame] = []
        sizes: list[int] = []
        owners: list[tuple[int, Tile | None]] = []
        for row, frame in enumerate(frames):
            if tiles.full_frame:
                images.append(frame)
                sizes.append(self.imgsz)
                owners.append((row, None))
            for tile in tile_boxes((frame.shape[1], frame.shape[0]), tiles):
                images.append(crop(frame, tile))
                sizes.append(self.tile_imgsz)
                owners.append((row, tile))
        parts: list[list[Detections]] = [[] for _ in frames]
        for (row, where), found in zip(owners, self._detect_images(images, sizes), strict=True):
            parts[row].append(found if where is None else found.shifted(where.x, where.y))
        return [merge(part, tiles, self.config.max_detections) for part in parts]

    def _detect_by_shape(
        self, frames: Sequence[Frame], shapes: list[tuple[int, int]]
    ) -> list[Detections]:
        """Frames fitted to different input shapes: one batch per shape, results in order."""
        results: list[Detections] = [Detections.empty()] * len(frames)
        timings = StageTimings(frames=len(frames))
        for shape in dict.fromkeys(shapes):
            rows = [row for row, size in enumerate(shapes) if size == shape]
            part, spent = self._detect_at([frames[row] for row in rows], shape)
            for row, detections in zip(rows, part, strict=True):
                results[row] = detections
            timings.preprocess += spent.preprocess
            timings.inference += spent.inference
            timings.postprocess += spent.postprocess
        self.timings = timings
        return results

    def _detect_at(
        self, frames: Sequence[Frame], shape: tuple[int, int]
    ) -> tuple[list[Detections], StageTimings]:
        """Letterbox every frame to ``shape``, run them in one batch, decode.

        On the torch runtime the three steps run on its device in one call
        (:meth:`TorchYoloModel.detect_frames`), timed as inference.
        """
        timings = StageTimings(frames=len(frames))
        start = time.perf_counter()
        if isinstance(self.model, TorchYoloModel):
            results = self.model.detect_frames(frames, shape, self._params)
            timings.inference = time.perf_counter() - start
            return results, timings
        prepared = [letterbox(frame, shape) for frame in frames]
        blob = self.model.prepare([image for image, _ in prepared])
        timings.preprocess = time.perf_counter() - start
        outputs = self._infer(blob)
        timings.inference = time.perf_counter() - start - timings.preprocess
        results = [
            self._decode(output, transform, frame)
            for output, (_, transform), frame in zip(outputs, prepared, frames, strict=True)
        ]
        timings.postprocess = time.perf_counter() - start - timings.preprocess - timings.inference
        return results, timings

    def _check_fit(self, width: int, height: int) -> None:
        """Say once per frame size when a camera-fitted input would compute much less padding."""
        if self.fits_input or self._fit_checked == (width, height):
            return
        self._fit_checked = (width, height)
        input_h, input_w = self.input_size
        try:
            fitted_h, fitted_w = fitted_input_size(
                max(input_h, input_w), (width, height), self.model.info.stride
            )
        except ValueError:  # an input size off the stride grid: no advice to give
            return
        if fitted_h * fitted_w <= 0.8 * input_h * input_w:
            logger.info(
                "frames of %dx%d fill a %dx%d input with padding; a model exported with "
                "`traffic-monitor models export WEIGHTS --imgsz %d --frame-size %dx%d` "
                "(input %dx%d, %d%% of the pixels) sees the same image for less network time",
                width,
                height,
                input_w,
                input_h,
                max(input_h, input_w),
                width,
                height,
                fitted_w,
                fitted_h,
                round(100 * fitted_h * fitted_w / (input_h * input_w)),
            )

    def _infer(self, blob: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        batch = self.max_batch
        if batch == 0 or len(blob) == batch:
            return self.model.run(blob)
        chunks = [self.model.run(blob[i : i + batch]) for i in range(0, len(blob), batch)]
        return np.concatenate(chunks)

    def _decode(
        self, output: np.ndarray[Any, Any], transform: Letterbox, frame: Frame
    ) -> Detections:
        return decode(output, self._params, transform, (frame.shape[0], frame.shape[1]))

    def _class_mask(self, classes: list[str] | None) -> np.ndarray[Any, Any] | None:
        """Which model classes are kept: the configured ones, by default the road users."""
        if classes == [ALL_CLASSES]:
            return None
        if not classes:
            classes = list(covered_road_users(self.names))
            if not classes:  # a model of other things (riders' heads): all of them
                return None
        mask = np.zeros(len(self.names), dtype=bool)
        mask[self.class_ids(classes)] = True
        return mask
