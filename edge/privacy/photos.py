"""Heads and number plates found and pixelated in a still photo, with the project's detectors.

The aggregator blurs citizens' report photos before an operator sees them
(``cloud.reports.photos.PhotoRedactor``). It does not import the edge: it declares the
interface it needs (``PhotoPrivacy``: ``conceal(image)``) and the top layer
(``traffic_monitor.cli``, the demo) hands it :func:`shared_photo_privacy`, this module's
implementation with the edge's detectors and :mod:`edge.privacy.blur`.
"""

from __future__ import annotations

import functools
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NamedTuple

import numpy as np

from edge.detections import Detections
from edge.privacy.blur import blur_regions, privacy_regions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PrivacyModel:
    """One detector of the redaction and how far its boxes are trusted."""

    model: str | None
    """Bundled model name, or None for the COCO model (``$TRAFFIC_MONITOR_MODEL`` / shared)."""
    confidence: float
    classes: tuple[str, ...] | None = None
    heads: bool = False
    """True: each box is a head (blurred whole, widened); else edge.privacy's regions."""


PRIVACY_MODELS: Final = (
    # riders with their motorbike, cars, buses, trucks: heads of riders and plates
    PrivacyModel("vn-vehicles", 0.3),
    # riders' heads directly (a rider half hidden, a face close up)
    PrivacyModel("vn-helmet", 0.15, heads=True),
    # pedestrians (the project's road-user model has no person class)
    PrivacyModel(None, 0.15, classes=("person",)),
)
"""Confidence is low for heads on purpose (a needless blur costs little, a missed face is a
breach); vehicles need more (a low-scored false bus box would blur half the photo)."""
HEAD_MARGIN: Final = 0.25
"""Head boxes are widened by this share on each side (hair, chin, ears)."""
TILE_ABOVE: Final = 1.5
"""A photo whose longer side exceeds this many times a model's input is also searched in
2 x 2 overlapping tiles: small faces in a large photo vanish at the model's input size."""


class Concealed(NamedTuple):
    """A photo with its heads and plates pixelated, and what was found."""

    image: np.ndarray[Any, Any]
    heads: int
    plates: int
    method: str


class DetectorPhotoPrivacy:
    """Finds heads and plates with the detectors of :data:`PRIVACY_MODELS` and pixelates them.

    The detectors are loaded on first use; one that cannot be loaded is skipped (logged).
    Head and plate regions of road users come from :func:`edge.privacy.privacy_regions`.
    Without any model the whole photo is pixelated (the safe side), and ``method`` says so.
    """

    def __init__(self, models: tuple[PrivacyModel, ...] = PRIVACY_MODELS) -> None:
        self._specs = models
        self._lock = threading.Lock()
        self._loaded: list[tuple[PrivacyModel, Any]] | None = None

    def _load(self) -> list[tuple[PrivacyModel, Any]]:
        from edge.detector import Detector, DetectorConfig
        from edge.detector.model import ModelError

        loaded = []
        for spec in self._specs:
            config = DetectorConfig(
                model=Path(spec.model) if spec.model else None,
                confidence=spec.confidence,
                classes=list(spec.classes) if spec.classes else None,
            )
            try:
                loaded.append((spec, Detector(config)))
            except ModelError as exc:
                logger.warning("photo privacy: %s not loaded (%s)", spec.model or "COCO", exc)
        return loaded

    def regions(self, image: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], int, int, str]:
        """Boxes to blur (xyxy), the head and plate counts, and the models used."""
        parts, methods, heads, plates = [], [], 0, 0
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load()
            for spec, detector in self._loaded:
                found = _detect_tiled(detector, image)
                names = [detector.names[int(c)] for c in found.class_id]
                if spec.heads:
                    parts.append(_widen(found.xyxy.astype(np.float64), HEAD_MARGIN))
                    heads += len(names)
                else:
                    parts.append(privacy_regions(found, detector.names))
                    heads += sum(n in ("person", "motorcycle", "bicycle") for n in names)
                    plates += sum(n in ("motorcycle", "car", "bus", "truck") for n in names)
                methods.append(spec.model or "coco-person")
        if not methods:
            height, width = image.shape[:2]
            return np.array([[0, 0, width, height]], np.float64), 0, 0, "whole-photo"
        return np.concatenate(parts).reshape(-1, 4), heads, plates, "+".join(methods)

    def conceal(self, image: np.ndarray[Any, Any]) -> Concealed:
        """Return a copy of ``image`` with every head and plate region pixelated."""
        boxes, heads, plates, method = self.regions(image)
        cell = max(8, max(image.shape[:2]) // 60)  # coarse enough on a 2560 px photo too
        return Concealed(blur_regions(image, boxes, cell=cell), heads, plates, method)


@functools.cache
def shared_photo_privacy() -> DetectorPhotoPrivacy:
    """The process's photo privacy: its detectors are loaded once, on the first photo."""
    return DetectorPhotoPrivacy()


def _detect_tiled(detector: Any, image: np.ndarray[Any, Any]) -> Detections:
    """Detections on the whole photo, plus on 2 x 2 overlapping tiles of a large one."""
    height, width = image.shape[:2]
    whole: Detections = detector.detect_one(image)
    if max(height, width) <= TILE_ABOVE * max(detector.input_size):
        return whole
    tile_h, tile_w = int(height * 0.6), int(width * 0.6)
    origins = [(x, y) for y in (0, height - tile_h) for x in (0, width - tile_w)]
    tiles = [image[y : y + tile_h, x : x + tile_w] for x, y in origins]
    found = [whole]
    for (x, y), dets in zip(origins, detector.detect(tiles), strict=True):
        found.append(dets.shifted(x, y))
    # overlapping boxes of one head are blurred twice: harmless, so no suppression here
    return Detections.merge(found)


def _widen(boxes: np.ndarray[Any, Any], margin: float) -> np.ndarray[Any, Any]:
    width = boxes[:, 2] - boxes[:, 0]
    height = boxes[:, 3] - boxes[:, 1]
    grow = np.stack([-width, -height, width, height], axis=1) * margin
    return (boxes + grow).reshape(-1, 4)
