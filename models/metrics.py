"""COCO-style average precision (101-point interpolation) for axis-aligned boxes.

A small, dependency-free re-implementation of what ``pycocotools.COCOeval`` computes for
``iouType="bbox"`` over the whole area range: per class and per IoU threshold, detections
of every image are matched greedily (highest score first, each to the unmatched ground-truth
box of highest IoU at or above the threshold), precision is made monotone and sampled at 101
recall points. mAP50 is the value at IoU 0.5; mAP50-95 is the mean over 0.50:0.05:0.95.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

IOU_THRESHOLDS: tuple[float, ...] = tuple(float(x) for x in np.linspace(0.5, 0.95, 10))
"""The ten COCO IoU thresholds 0.50, 0.55, …, 0.95."""
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
"""The 101 COCO recall sample points."""


@dataclass(frozen=True)
class ImageBoxes:
    """Ground truth and predictions of one image, boxes ``[x1, y1, x2, y2]`` in pixels.

    Attributes:
        gt_xyxy: Ground-truth boxes, shape ``(G, 4)``.
        gt_class: Ground-truth class ids (of the evaluated set), shape ``(G,)``.
        pred_xyxy: Predicted boxes, shape ``(P, 4)``.
        pred_score: Prediction scores, shape ``(P,)``.
        pred_class: Predicted class ids (already mapped to the set's ids), shape ``(P,)``.
    """

    gt_xyxy: FloatArray
    gt_class: IntArray
    pred_xyxy: FloatArray = field(default_factory=lambda: np.empty((0, 4)))
    pred_score: FloatArray = field(default_factory=lambda: np.empty(0))
    pred_class: IntArray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __post_init__(self) -> None:
        for name, width in (("gt_xyxy", 4), ("pred_xyxy", 4)):
            value = np.asarray(getattr(self, name), dtype=np.float64).reshape(-1, width)
            object.__setattr__(self, name, value)
        for name, dtype in (("gt_class", np.int64), ("pred_score", np.float64)):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=dtype).ravel())
        object.__setattr__(self, "pred_class", np.asarray(self.pred_class, dtype=np.int64).ravel())
        if len(self.gt_class) != len(self.gt_xyxy):
            raise ValueError(
                f"{len(self.gt_xyxy)} ground-truth boxes but {len(self.gt_class)} class ids"
            )
        if not len(self.pred_xyxy) == len(self.pred_score) == len(self.pred_class):
            raise ValueError(
                f"predictions disagree in length: {len(self.pred_xyxy)} boxes, "
                f"{len(self.pred_score)} scores, {len(self.pred_class)} classes"
            )


@dataclass(frozen=True)
class ClassAP:
    """Average precision of one class.

    Attributes:
        name: Class name.
        ground_truth: Number of ground-truth boxes.
        predictions: Number of predicted boxes.
        ap50: AP at IoU 0.5, or ``None`` when the class has no ground truth (undefined).
        ap50_95: AP averaged over IoU 0.50:0.95, or ``None`` when undefined.
        recall50: Recall at IoU 0.5 over all predictions, or ``None`` when undefined.
    """

    name: str
    ground_truth: int
    predictions: int
    ap50: float | None
    ap50_95: float | None
    recall50: float | None


@dataclass(frozen=True)
class EvalResult:
    """Per-class and overall average precision.

    Attributes:
        classes: One entry per class of the evaluated set.
        map50: Mean of ``ap50`` over classes with ground truth.
        map50_95: Mean of ``ap50_95`` over classes with ground truth.
    """

    classes: tuple[ClassAP, ...]
    map50: float
    map50_95: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "map50": self.map50,
            "map50_95": self.map50_95,
            "classes": [vars(c) for c in self.classes],
        }


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Pairwise IoU of boxes ``a`` ``(N, 4)`` and ``b`` ``(M, 4)`` in xyxy, shape ``(N, M)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(bottom_right - top_left, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _match_image(
    gt: FloatArray, pred: FloatArray, thresholds: Sequence[float]
) -> npt.NDArray[np.bool_]:
    """True-positive flags ``(T, P)`` for predictions already sorted by falling score."""
    tp = np.zeros((len(thresholds), len(pred)), dtype=bool)
    if len(gt) == 0 or len(pred) == 0:
        return tp
    ious = box_iou(pred, gt)
    for t_index, threshold in enumerate(thresholds):
        taken = np.zeros(len(gt), dtype=bool)
        for p_index in range(len(pred)):
            candidates = np.where(taken, -1.0, ious[p_index])
            best = int(np.argmax(candidates))
            if candidates[best] >= threshold:
                taken[best] = True
                tp[t_index, p_index] = True
    return tp


def _interpolated_ap(tp_sorted: npt.NDArray[np.bool_], n_gt: int) -> float:
    """101-point interpolated AP of one class at one threshold."""
    if len(tp_sorted) == 0:
        return 0.0
    tps = np.cumsum(tp_sorted)
    fps = np.cumsum(~tp_sorted)
    recall = tps / n_gt
    precision = tps / np.maximum(tps + fps, np.finfo(np.float64).eps)
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.where(index < len(precision), precision[np.minimum(index, len(precision) - 1)], 0)
    return float(np.mean(sampled))


def _class_ap(
    images: Sequence[ImageBoxes], class_id: int, thresholds: Sequence[float], max_dets: int
) -> tuple[list[float], int, int, float]:
    """AP per threshold, ground-truth count, prediction count and recall at the first threshold."""
    flags: list[npt.NDArray[np.bool_]] = []
    scores: list[FloatArray] = []
    n_gt = 0
    for image in images:
        gt = image.gt_xyxy[image.gt_class == class_id]
        keep = image.pred_class == class_id
        pred, score = image.pred_xyxy[keep], image.pred_score[keep]
        order = np.argsort(-score, kind="mergesort")[:max_dets]
        n_gt += len(gt)
        flags.append(_match_image(gt, pred[order], thresholds))
        scores.append(score[order])
    all_scores = np.concatenate(scores) if scores else np.empty(0)
    all_flags = np.concatenate(flags, axis=1) if flags else np.zeros((len(thresholds), 0), bool)
    order = np.argsort(-all_scores, kind="mergesort")
    if n_gt == 0:
        return [], 0, len(all_scores), 0.0
    aps = [_interpolated_ap(all_flags[t, order], n_gt) for t in range(len(thresholds))]
    recall = float(all_flags[0].sum() / n_gt)
    return aps, n_gt, len(all_scores), recall


def evaluate(
    images: Sequence[ImageBoxes],
    class_names: Sequence[str],
    max_dets: int = 100,
) -> EvalResult:
    """COCO-style mAP50 and mAP50-95 per class and overall.

    Args:
        images: Ground truth and predictions per image, classes in the set's ids.
        class_names: The set's class names; ids index into it.
        max_dets: Highest-scored predictions kept per image and class (COCO uses 100).

    Returns:
        Per-class AP and their means over classes that have ground truth (as COCO does).
    """
    per_class: list[ClassAP] = []
    for class_id, name in enumerate(class_names):
        aps, n_gt, n_pred, recall = _class_ap(images, class_id, IOU_THRESHOLDS, max_dets)
        if n_gt == 0:
            per_class.append(ClassAP(name, 0, n_pred, None, None, None))
            continue
        per_class.append(ClassAP(name, n_gt, n_pred, aps[0], float(np.mean(aps)), recall))
    defined = [c for c in per_class if c.ap50 is not None]
    map50 = float(np.mean([c.ap50 for c in defined])) if defined else 0.0
    map50_95 = float(np.mean([c.ap50_95 for c in defined])) if defined else 0.0
    logger.debug("evaluated %d images: mAP50 %.4f", len(images), map50)
    return EvalResult(tuple(per_class), map50, map50_95)
