"""Accuracy of a detector on a YOLO-format labelled set: predictions, class mapping, mAP.

The model's classes (COCO names for the stock models) are mapped to the set's classes by
name, or by an explicit ``model=set`` mapping; predictions of unmapped classes are dropped.
Sets that box a motorbike together with its rider are honoured by :func:`merge_riders`,
which folds each ``person`` box into the ``motorcycle`` (or ``bicycle``) box it rides on.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import ValidationError

from edge.detections import Detections
from edge.detector import Detector, DetectorConfig
from edge.detector.classes import product_name
from edge.detector.config import OpenVinoPrecision, RuntimeName
from edge.detector.tiling import TilingConfig
from models.dataset import YoloDataset
from models.metrics import EvalResult, ImageBoxes, evaluate
from traffic_monitor.errors import UserFacingError, first_field_error

logger = logging.getLogger(__name__)

RIDDEN_CLASSES = ("motorcycle", "bicycle")
"""Vehicle classes a rider may sit on."""


@dataclass(frozen=True)
class RiderMerge:
    """How a rider's ``person`` box is folded into the vehicle box it rides on.

    Attributes:
        rider_class: The model's class name of riders.
        vehicle_classes: The model's class names a rider may ride.
        min_overlap: Minimum share of the person box's width that overlaps the vehicle box
            horizontally. Lower merges pedestrians walking beside a bike; higher misses
            riders leaning out of a tight box.
        max_gap: Largest vertical gap between the person's bottom and the vehicle's top, as a
            share of the vehicle height (a rider's feet are inside the vehicle box).
    """

    rider_class: str = "person"
    vehicle_classes: tuple[str, ...] = RIDDEN_CLASSES
    min_overlap: float = 0.5
    max_gap: float = 0.0


def class_mapping(
    model_names: Sequence[str], set_names: Sequence[str], overrides: Mapping[str, str] | None = None
) -> dict[int, int]:
    """Model class id → set class id: same names, plus explicit ``model name → set name`` pairs.

    Raises:
        UserFacingError: An override names a class that neither side has, or nothing maps.
    """
    # Both sides speak through the product's class mapping (COCO "motorcycle", a set's
    # "motorbike" or "without_helmet" meet on one name).
    set_keys = [product_name(name) for name in set_names]
    mapping = {
        i: set_keys.index(product_name(name))
        for i, name in enumerate(model_names)
        if product_name(name) in set_keys
    }
    for model_name, set_name in (overrides or {}).items():
        if model_name not in model_names or set_name not in set_names:
            raise UserFacingError(
                f"class mapping {model_name}={set_name}: the model has {', '.join(model_names)}; "
                f"the set has {', '.join(set_names)}"
            )
        mapping[model_names.index(model_name)] = set_names.index(set_name)
    if not mapping:
        raise UserFacingError("no model class maps to a class of the set; give --map MODEL=SET")
    return mapping


def merge_riders(detections: Detections, names: Sequence[str], merge: RiderMerge) -> Detections:
    """Fold each rider box into the vehicle box it rides on (the union box, vehicle score).

    A person rides a vehicle when their boxes overlap horizontally by at least
    ``merge.min_overlap`` of the person's width and the person's bottom edge lies within the
    vehicle box vertically. Each person joins at most one vehicle (the largest overlap) and
    each vehicle takes at most one rider; merged persons are removed.
    """
    if merge.rider_class not in names or len(detections) == 0:
        return detections
    rider_id = names.index(merge.rider_class)
    vehicle_ids = [names.index(n) for n in merge.vehicle_classes if n in names]
    vehicles = np.flatnonzero(np.isin(detections.class_id, vehicle_ids))
    persons = np.flatnonzero(detections.class_id == rider_id)
    if len(vehicles) == 0 or len(persons) == 0:
        return detections
    xyxy = detections.xyxy.copy()
    used = np.zeros(len(detections), dtype=bool)
    for v in vehicles[np.argsort(-detections.confidence[vehicles])]:
        best, best_overlap = -1, merge.min_overlap
        for p in persons:
            overlap = _rider_overlap(xyxy[p], detections.xyxy[v], merge.max_gap)
            if not used[p] and overlap >= best_overlap:
                best, best_overlap = int(p), overlap
        if best >= 0:
            used[best] = True
            xyxy[v, :2] = np.minimum(xyxy[v, :2], xyxy[best, :2])
            xyxy[v, 2:] = np.maximum(xyxy[v, 2:], xyxy[best, 2:])
    merged = Detections(xyxy, detections.confidence, detections.class_id, detections.tracker_id)
    return merged[~used]


def _rider_overlap(
    person: np.ndarray[Any, Any], vehicle: np.ndarray[Any, Any], gap: float
) -> float:
    """Horizontal overlap share of the person's width, 0 when the feet are not on the vehicle."""
    vehicle_height = vehicle[3] - vehicle[1]
    if not vehicle[1] - gap * vehicle_height <= person[3] <= vehicle[3] + 0.1 * vehicle_height:
        return 0.0
    width = max(float(person[2] - person[0]), 1e-6)
    overlap = min(person[2], vehicle[2]) - max(person[0], vehicle[0])
    return max(float(overlap), 0.0) / width


def to_image_boxes(
    detections: Detections, mapping: Mapping[int, int], gt_xyxy: Any, gt_class: Any
) -> ImageBoxes:
    """Keep mapped classes and express predictions in the set's class ids."""
    keep = np.isin(detections.class_id, list(mapping))
    kept = detections[keep]
    classes = np.asarray([mapping[int(c)] for c in kept.class_id], dtype=np.int64)
    xyxy, score = kept.xyxy.astype(np.float64), kept.confidence.astype(np.float64)
    return ImageBoxes(gt_xyxy, gt_class, xyxy, score, classes)


@dataclass(frozen=True)
class EvalRun:
    """An evaluation and the predictions it was computed from.

    Attributes:
        runtime: The detector's runtime (``onnxruntime`` or ``openvino``).
        precision: The arithmetic that really ran (OpenVINO falls back to f32 on a CPU
            without the precision asked for).
    """

    result: EvalResult
    images: list[ImageBoxes]
    image_paths: list[Path]
    seconds: float
    runtime: str = "onnxruntime"
    precision: str = "f32"


def evaluate_model(
    model: Path,
    dataset: YoloDataset,
    *,
    overrides: Mapping[str, str] | None = None,
    merge: RiderMerge | None = None,
    merge_where: Callable[[str], bool] | None = None,
    confidence: float = 0.001,
    iou: float = 0.6,
    providers: Sequence[str] = ("cpu",),
    runtime: RuntimeName = "onnxruntime",
    openvino_precision: OpenVinoPrecision = "f32",
    imgsz: int | None = None,
    tiles: TilingConfig | None = None,
    aspect: float | None = None,
    device: str = "cpu",
) -> EvalRun:
    """Run the edge :class:`Detector` over the set and compute COCO-style mAP.

    Args:
        model: ONNX detection model.
        dataset: The labelled set.
        overrides: Extra ``model name → set name`` class pairs.
        merge: Fold rider boxes into motorbike boxes first (for sets labelled that way).
        merge_where: The images (by file name) whose labels box riders with their bike;
            ``merge`` applies to those only (None: to every image). A set may mix the two
            conventions (``SiteTable.rider_in_box``).
        confidence: Score floor of predictions (low, as for any mAP).
        iou: NMS IoU threshold.
        providers: ONNX Runtime providers (cpu, cuda, tensorrt, openvino).
        runtime: ``onnxruntime`` or ``openvino`` (the edge detector's ``runtime``).
        openvino_precision: Arithmetic of the openvino runtime (``f32``, ``bf16``, ``f16``,
            ``auto``), to measure what a faster precision costs in accuracy.
        imgsz: Input long side of a dynamic-size model (the detector's ``imgsz``).
        tiles: Sliced inference (the detector's ``tiles``).
        aspect: Width / height of the camera frames the set's images were squeezed from
            (the shared road set stretched 16:9 frames to 640 x 640): each image is given
            that shape back before detection, as the camera delivers it, and the boxes are
            mapped back onto the stored image. None: detect on the image as stored.
        device: Where the torch runtime runs (``cpu``, ``cuda:0``; FP16 on CUDA), to
            measure what FP16 costs.

    Returns:
        The result with per-image boxes (for cross-checks), and the precision that ran.

    Raises:
        UserFacingError: A detector option is refused (e.g. GPU providers with OpenVINO).
    """
    try:
        config = DetectorConfig(
            model=model,
            confidence=confidence,
            iou=iou,
            runtime=runtime,
            openvino_precision=openvino_precision,
            device=device,
            providers=list(providers),  # type: ignore[arg-type]
            imgsz=imgsz,
            tiles=tiles,
        )
    except ValidationError as exc:
        raise UserFacingError(f"invalid detector option {first_field_error(exc)}") from exc
    detector = Detector(config)
    mapping = class_mapping(detector.names, dataset.names, overrides)
    logger.info(
        "class mapping: %s",
        {detector.names[k]: dataset.names[v] for k, v in mapping.items()},
    )
    images: list[ImageBoxes] = []
    start = time.perf_counter()
    for path, (image, labels) in zip(dataset.image_paths, dataset, strict=True):
        detections = detect_at_aspect(detector, image, aspect)
        if merge is not None and (merge_where is None or merge_where(path.name)):
            detections = merge_riders(detections, detector.names, merge)
        images.append(to_image_boxes(detections, mapping, labels.xyxy, labels.class_id))
    seconds = time.perf_counter() - start
    precision = getattr(detector.model, "precision", "f32")  # what OpenVINO actually ran
    if getattr(detector.model, "half", False):  # the torch runtime on CUDA
        precision = "f16"
    return EvalRun(
        evaluate(images, dataset.names),
        images,
        list(dataset.image_paths),
        seconds,
        runtime=runtime,
        precision=str(precision),
    )


def detect_at_aspect(detector: Detector, image: Any, aspect: float | None) -> Detections:
    """Detect on the image restored to the camera's aspect ratio, boxes in stored pixels."""
    height, width = image.shape[:2]
    if aspect is None or abs(width / height - aspect) < 0.01:
        return detector.detect_one(image)
    restored = cv2.resize(image, (round(height * aspect), height), interpolation=cv2.INTER_LINEAR)
    found = detector.detect_one(restored)
    scale = np.array([width / restored.shape[1], 1.0, width / restored.shape[1], 1.0], np.float32)
    return Detections(found.xyxy * scale, found.confidence, found.class_id, found.tracker_id)


def coco_crosscheck(images: Sequence[ImageBoxes], class_names: Sequence[str]) -> dict[str, float]:
    """The same predictions scored by ``faster-coco-eval`` (an independent COCOeval).

    Returns:
        ``{"map50": …, "map50_95": …}`` from COCOeval's summary (maxDets 100).

    Raises:
        UserFacingError: ``faster-coco-eval`` is not installed.
    """
    try:
        from faster_coco_eval import COCO, COCOeval_faster
    except ImportError as exc:
        raise UserFacingError("the cross-check needs `pip install faster-coco-eval`") from exc
    gt, dt = _coco_dicts(images, class_names)
    coco_gt = COCO()
    coco_gt.dataset = gt
    coco_gt.createIndex()
    coco_dt = coco_gt.loadRes(dt) if dt else COCO()
    evaluator = COCOeval_faster(coco_gt, coco_dt, "bbox", print_function=logger.debug)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return {"map50": float(evaluator.stats[1]), "map50_95": float(evaluator.stats[0])}


def _coco_dicts(
    images: Sequence[ImageBoxes], class_names: Sequence[str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    annotations: list[dict[str, Any]] = []
    detections: list[dict[str, Any]] = []
    for image_id, image in enumerate(images, start=1):
        for box, cls in zip(image.gt_xyxy, image.gt_class, strict=True):
            w, h = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [float(box[0]), float(box[1]), w, h],
                    "area": w * h,
                    "iscrowd": 0,
                }
            )
        for box, score, cls in zip(
            image.pred_xyxy, image.pred_score, image.pred_class, strict=True
        ):
            detections.append(
                {
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [
                        float(box[0]),
                        float(box[1]),
                        float(box[2] - box[0]),
                        float(box[3] - box[1]),
                    ],
                    "score": float(score),
                }
            )
    gt = {
        "images": [{"id": i, "width": 1, "height": 1} for i in range(1, len(images) + 1)],
        "annotations": annotations,
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(class_names)],
    }
    return gt, detections


def write_report(
    run: EvalRun, model: Path, dataset: YoloDataset, extra: Mapping[str, Any], out: Path
) -> None:
    """Write the evaluation as JSON."""
    report = {
        "model": str(model),
        "dataset": str(dataset.root),
        "images": len(run.images),
        "seconds": run.seconds,
        "runtime": run.runtime,
        "precision": run.precision,
        **extra,
        **run.result.to_dict(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    logger.info("wrote %s", out)
