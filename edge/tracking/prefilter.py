"""Before tracking: one box per road user.

Rider fusion: a person sitting on a motorbike or bicycle is part of that vehicle.

COCO detectors give a rider and the motorbike under them two boxes. Counted separately they
double every motorbike (the norm in Vietnamese traffic), and the rider would look like a
pedestrian on the carriageway. Rider fusion runs before tracking: each person box that overlaps
a two-wheeler box by ``min_overlap`` of its own area is removed and the two-wheeler's box
grows to cover the rider (the box a person would draw: rider and bike together).
Small motorbikes are often called ``car``: a vehicle box barely wider than a person takes
riders too.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from edge.compiled import compiled
from edge.detections import Detections, of_classes
from edge.tracking.association import box_overlap
from edge.tracking.config import TrackerConfig

TWO_WHEELERS = ("motorcycle", "bicycle")
VEHICLES = ("car", "bus", "truck")
NARROW_RATIO = 1.6
"""A vehicle box at most this many times the person's width may carry them as a rider."""
SEAT_DEPTH = 0.0
"""A rider's box reaches at least this far (in bike box heights) into the bike's box: the
rider of the bike behind in single file, whose feet end above the box in front, is not
this bike's rider."""
FEET_BELOW = 0.25
"""... and ends at most this far below it: the rider of the bike in front, whose feet are
below the bike behind, is not that bike's rider either."""
TWIN_SHARE = 0.5
"""Two two-wheeler boxes with the smaller this much inside the larger, and bottoms within
:data:`TWIN_BOTTOM` of the larger's height, are one road user (the detector's bike box and
its rider-and-bike box, which NMS keeps as their IoU is low)."""
TWIN_BOTTOM = 0.4
TWIN_WIDTH = 1.8
"""... and widths within this factor: a box as wide as two bikes side by side (the detector
gives one now and then) holds two road users, not a twin of either."""


def merge_riders(
    detections: Detections, class_names: Sequence[str], min_overlap: float = 0.3
) -> Detections:
    """Merge rider boxes into the two-wheeler boxes they sit on.

    Args:
        detections: One frame's detections.
        class_names: The detector's class names (to find person and two-wheeler ids).
        min_overlap: Fraction of the person box inside the two-wheeler box (grown upwards by
            its own height, where the rider sits) to call the person a rider.

    Returns:
        Detections without rider rows; two-wheeler rows have the union box and the higher
        of the two scores. Other rows are unchanged and keep their order.
    """
    names = tuple(class_names)
    if len(detections) < 2:
        return detections
    is_person = detections.class_id == names.index("person") if "person" in names else None
    is_wheel = of_classes(detections.class_id, names, TWO_WHEELERS)
    is_vehicle = of_classes(detections.class_id, names, VEHICLES)
    bikes = np.flatnonzero(is_wheel | is_vehicle)
    if not is_wheel.any() and (is_person is None or not is_person.any()):
        return detections
    xyxy = detections.xyxy.copy()
    confidence = detections.confidence.copy()
    keep = np.ones(len(detections), dtype=bool)
    persons: list[int] = []
    if is_person is not None and len(bikes):
        persons = np.flatnonzero(is_person).tolist()
    # Overlaps with the bikes' own boxes, not with boxes grown by a rider already taken: a
    # grown box would reach the rider of the bike behind, and the next one (a single file
    # of bikes would become one box). A passenger sits on the bike's own seat region too.
    overlaps = _rider_overlaps(xyxy[persons], xyxy[bikes], is_wheel[bikes])
    for row, overlap in zip(persons, overlaps, strict=True):
        bike = _best_bike(overlap, min_overlap)
        if bike is None:
            continue
        target = bikes[bike]
        xyxy[target, :2] = np.minimum(xyxy[target, :2], xyxy[row, :2])
        xyxy[target, 2:] = np.maximum(xyxy[target, 2:], xyxy[row, 2:])
        confidence[target] = max(confidence[target], confidence[row])
        keep[row] = False
    _fold_twins(xyxy, confidence, keep, np.flatnonzero(is_wheel), np.flatnonzero(is_vehicle))
    merged = Detections(
        xyxy, confidence, detections.class_id, detections.tracker_id, dict(detections.data)
    )
    return merged[keep]


def _fold_twins(
    xyxy: np.ndarray,  # type: ignore[type-arg]
    confidence: np.ndarray,  # type: ignore[type-arg]
    keep: np.ndarray,  # type: ignore[type-arg]
    wheels: np.ndarray,  # type: ignore[type-arg]
    vehicles: np.ndarray,  # type: ignore[type-arg]
) -> None:
    """Fold boxes that are one two-wheeler into its box (union box, higher score).

    After the rider merge a bike's box and its rider-and-bike box often overlap far more
    than the detector's NMS let through, and a small motorbike often has a ``car`` box
    beside its ``motorcycle`` one (NMS is per class). Both would become two tracks. Folded
    into the best two-wheeler box: other two-wheeler boxes and vehicle boxes hardly wider
    than it (``NARROW_RATIO``) that are its twins (:func:`_twins`). Bikes in single file do
    not fold: the one behind ends a bike length higher (:data:`TWIN_BOTTOM`). Modifies the
    arrays in place.
    """
    order = sorted((int(w) for w in wheels), key=lambda r: -float(confidence[r]))
    for rank, row in enumerate(order):
        if not keep[row]:
            continue
        width = float(xyxy[row, 2] - xyxy[row, 0])
        narrow = [
            int(v) for v in vehicles if float(xyxy[v, 2] - xyxy[v, 0]) <= NARROW_RATIO * width
        ]
        for other in order[rank + 1 :] + narrow:
            if keep[other] and _twins(xyxy[row], xyxy[other]):
                xyxy[row, :2] = np.minimum(xyxy[row, :2], xyxy[other, :2])
                xyxy[row, 2:] = np.maximum(xyxy[row, 2:], xyxy[other, 2:])
                confidence[row] = max(confidence[row], confidence[other])
                keep[other] = False


def _twins(a: np.ndarray, b: np.ndarray) -> bool:  # type: ignore[type-arg]
    """Whether two boxes are one two-wheeler (see :data:`TWIN_SHARE`)."""
    inter, _, area_b = box_overlap(a, b)
    area_a = float((a[2] - a[0]) * (a[3] - a[1]))
    smaller = max(min(area_a, float(area_b)), 1e-9)
    taller = max(float(a[3] - a[1]), float(b[3] - b[1]))
    widths = sorted([max(float(a[2] - a[0]), 1e-9), max(float(b[2] - b[0]), 1e-9)])
    return (
        inter / smaller >= TWIN_SHARE
        and abs(float(a[3] - b[3])) <= TWIN_BOTTOM * taller
        and widths[1] <= TWIN_WIDTH * widths[0]
    )


def _rider_overlaps(
    persons: np.ndarray,  # type: ignore[type-arg]
    bikes: np.ndarray,  # type: ignore[type-arg]
    wheel: np.ndarray,  # type: ignore[type-arg]
) -> np.ndarray:  # type: ignore[type-arg]
    """``[p, b]``: fraction of person box p inside bike box b grown upwards by its height.

    Zero where the bike cannot carry the person: a "car" more than ``NARROW_RATIO`` times
    as wide as the person is a car, not a misnamed motorbike; a person whose box ends
    above ``SEAT_DEPTH`` of the bike's box, or ``FEET_BELOW`` below it, sits on another bike
    (in single file, the one behind or in front).
    """
    widths = persons[:, 2] - persons[:, 0]
    fits = wheel[None, :] | (
        bikes[None, :, 2] - bikes[None, :, 0] <= NARROW_RATIO * widths[:, None]
    )
    heights = bikes[:, 3] - bikes[:, 1]
    seat_line = bikes[:, 1] + SEAT_DEPTH * heights
    ground = bikes[:, 3] + FEET_BELOW * heights
    fits &= (persons[:, None, 3] >= seat_line[None, :]) & (persons[:, None, 3] <= ground[None, :])
    seat = bikes.copy()
    seat[:, 1] -= bikes[:, 3] - bikes[:, 1]  # the rider sits above the bike
    x1 = np.maximum(seat[None, :, 0], persons[:, None, 0])
    y1 = np.maximum(seat[None, :, 1], persons[:, None, 1])
    x2 = np.minimum(seat[None, :, 2], persons[:, None, 2])
    y2 = np.minimum(seat[None, :, 3], persons[:, None, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = widths * (persons[:, 3] - persons[:, 1])
    areas = np.array([max(float(a), 1e-6) for a in area], dtype=persons.dtype)
    return np.where(fits, inter / areas[:, None], 0.0)


def _best_bike(overlap: np.ndarray, min_overlap: float) -> int | None:  # type: ignore[type-arg]
    best = int(np.argmax(overlap))
    return best if overlap[best] >= min_overlap else None


def one_box_per_road_user(
    detections: Detections, config: TrackerConfig, class_names: Sequence[str]
) -> Detections:
    """What the tracker is fed: duplicates suppressed, riders folded into their bikes.

    Args:
        detections: One frame's detections.
        config: The tracker section (``duplicate_iou``, ``merge_riders``).
        class_names: The detector's class names.
    """
    detections = suppress_duplicates(detections, config.duplicate_iou)
    if config.merge_riders:
        detections = merge_riders(detections, class_names)
    return detections


def suppress_duplicates(
    detections: Detections, iou: float = 0.7, contained: float = 0.8
) -> Detections:
    """Drop boxes that duplicate a higher-scored box: one road user, one box.

    The detector's NMS is per class, so one small motorbike often comes out as both
    ``motorcycle`` and ``car`` (or a car as ``car`` and ``truck``); and a part of a vehicle
    (the bike under its rider) may get its own box of the same class, which NMS keeps
    because the IoU of a small box inside a large one is low. Two boxes would become two
    tracks and two counts. Dropped: a box overlapping a higher-scored one by more than
    ``iou``, or lying ``contained`` of its area inside a higher-scored box of its class.
    Rows kept stay in order.
    """
    if len(detections) < 2:
        return detections
    order = np.argsort(-detections.confidence, kind="stable")
    keep = _greedy_unique(
        np.ascontiguousarray(detections.xyxy, dtype=np.float64),
        np.ascontiguousarray(detections.class_id, dtype=np.int64),
        order.astype(np.int64),
        float(iou),
        float(contained),
    )
    return detections[keep]


@compiled
def _greedy_unique(
    boxes: npt.NDArray[np.float64],
    class_ids: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64],
    iou: float,
    contained: float,
) -> npt.NDArray[np.bool_]:
    """Keep-mask of :func:`suppress_duplicates`: best first, a kept box drops lower duplicates.

    Compiled: the pairs of a few dozen boxes, where numpy's calls cost the most.
    """
    keep = np.ones(len(boxes), dtype=np.bool_)
    for rank in range(len(order)):
        row = order[rank]
        if not keep[row]:
            continue
        for other in order[rank + 1 :]:
            inter, union, other_area = box_overlap(boxes[row], boxes[other])
            overlap = inter / max(union, 1e-9) if union > 0 else 0.0
            held = inter / max(other_area, 1e-9)  # fraction of `other` inside `row`
            if overlap > iou or (class_ids[row] == class_ids[other] and held >= contained):
                keep[other] = False
    return keep
