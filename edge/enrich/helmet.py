"""Helmet enrichment: the head model's verdict on each rider, as columns of the frame's rows.

A second, small detector (the bundled ``vn-helmet`` model: ``head_helmet`` /
``head_no_helmet``) runs on the whole frame, every few frames and only while some tracked
motorbike in view still needs a verdict. One run serves every motorbike of the frame: each
head is given to the motorbike box it sits in (the top part of the box, where riders' heads
are; the smallest such box in dense traffic), and per row the enricher writes

- :data:`HEADS`: heads given to the row (``-1``: not looked at on this frame),
- :data:`BARE_HEADS`: how many of them are bare,
- :data:`BARE_SCORE`: the best score of a bare head (0 when none).

The ``no_helmet`` rule (:mod:`edge.rules.helmet`) builds this enricher from its settings and
only counts votes over these columns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from edge.detections import NO_TRACK, Detections, of_classes
from edge.enrich.head_classifier import relabel_heads
from edge.ingest import FrameRateLimiter
from edge.tracking.prefilter import suppress_duplicates

logger = logging.getLogger(__name__)

HEAD_DETECTOR = "head_detector"
"""Key of an injected head detector in ``RuleSetup.services`` (tests, shared instances)."""

NO_HELMET, HELMET = "head_no_helmet", "head_helmet"

HEADS, BARE_HEADS, BARE_SCORE = "helmet_heads", "helmet_bare_heads", "helmet_bare_score"
"""The columns written to ``Detections.data`` on the frames the head model ran."""

NOT_LOOKED = -1
""":data:`HEADS` of a row the enricher did not look at (not a rider, or already decided)."""


class HeadDetector(Protocol):
    """What the enricher needs of a detector: heads of one frame and their class names."""

    names: tuple[str, ...]

    def detect_one(self, frame: np.ndarray[Any, Any]) -> Detections:
        """Detect heads in one BGR frame."""
        ...


class BareClassifier(Protocol):
    """What the enricher needs of a second look: each head's probability of being bare."""

    def bare_probability(
        self, image: np.ndarray[Any, Any], xyxy: npt.ArrayLike
    ) -> npt.NDArray[np.float32]:
        """Probability of a bare head for each box of the BGR frame."""
        ...


class HelmetEnricher:
    """Runs the head model for the riders that still need a verdict and writes the columns."""

    name = "helmet"

    def __init__(
        self,
        heads: HeadDetector,
        class_names: Sequence[str],
        *,
        classes: Collection[str],
        confidence: float,
        check_interval_s: float,
        head_band: float,
        needs: Callable[[int], bool],
        classifier: BareClassifier | None = None,
    ) -> None:
        """Check the head model's classes and keep the settings.

        Args:
            heads: The head model (owned by this enricher).
            class_names: The road-user detector's class names.
            classes: Road-user classes whose riders are checked.
            confidence: Minimum score of a head detection.
            check_interval_s: Run the head model at most once per this many seconds of
                media time (cost); 0: on every frame it is given.
            head_band: Top fraction of a road user's box where its riders' heads are.
            needs: Whether a track still needs a verdict (its rule has not decided it).
            classifier: A second look at each head given to a rider, from a crop of the
                frame (:class:`~edge.enrich.head_classifier.HeadClassifier`): its verdict
                replaces the head model's class. None: the head model's class stands.

        Raises:
            ValueError: The head model lacks the helmet / bare-head classes.
        """
        missing = {NO_HELMET, HELMET} - set(heads.names)
        if missing:
            raise ValueError(f"head model lacks class(es) {', '.join(sorted(missing))}")
        self.heads = heads
        self.class_names = tuple(class_names)
        self.classes = frozenset(classes)
        self.confidence = confidence
        self._due = FrameRateLimiter.every(check_interval_s)
        self.head_band = head_band
        self.needs = needs
        self.classifier = classifier
        self._bare_id = heads.names.index(NO_HELMET)
        self._helmet_id = heads.names.index(HELMET)

    def enrich(
        self, image: np.ndarray[Any, Any] | None, detections: Detections, timestamp: float
    ) -> Detections:
        """Add the helmet columns when this frame is due and some rider needs a verdict."""
        if not self._due.keep(timestamp) or image is None:
            return detections
        riders = self._riders(detections)
        wanted = np.zeros(len(detections), dtype=bool)
        wanted[riders] = [self.needs(int(track)) for track in detections.tracker_id[riders]]
        if not wanted.any():
            return detections
        heads = self.heads.detect_one(image)
        heads = one_class_per_head(heads[heads.confidence >= self.confidence])
        owner = assign_heads(detections.xyxy[riders], heads.xyxy, self.head_band)
        if self.classifier is not None:
            heads, owner = self._second_look(image, heads, owner)
        return detections.with_data(**self._columns(heads, owner, riders, wanted))

    def _second_look(
        self, image: np.ndarray[Any, Any], heads: Detections, owner: npt.NDArray[np.int64]
    ) -> tuple[Detections, npt.NDArray[np.int64]]:
        """The heads given to a rider, each re-classified from a crop of the frame."""
        assert self.classifier is not None
        given = owner >= 0
        heads, owner = heads[given], owner[given]
        if len(heads):
            p_bare = self.classifier.bare_probability(image, heads.xyxy)
            heads = relabel_heads(heads, p_bare, self._bare_id, self._helmet_id)
        return heads, owner

    def _riders(self, detections: Detections) -> npt.NDArray[np.bool_]:
        """Rows of confirmed tracks of the checked classes (by the tracker's voted class)."""
        voted = detections.data.get("track_class_id", detections.class_id)
        of_class = of_classes(np.asarray(voted, dtype=np.int64), self.class_names, self.classes)
        mask: npt.NDArray[np.bool_] = (detections.tracker_id != NO_TRACK) & of_class
        return mask

    def _columns(
        self,
        heads: Detections,
        owner: npt.NDArray[np.int64],
        riders: npt.NDArray[np.bool_],
        wanted: npt.NDArray[np.bool_],
    ) -> dict[str, np.ndarray[Any, Any]]:
        """Per-row head counts and best bare-head score, for all the wanted rows at once."""
        rows = np.flatnonzero(riders)
        given = owner >= 0
        bare = given & (heads.class_id == self._bare_id)
        per_rider = np.bincount(owner[given], minlength=len(rows))
        bare_per_rider = np.bincount(owner[bare], minlength=len(rows))
        best_bare = np.zeros(len(rows), dtype=np.float32)
        np.maximum.at(best_bare, owner[bare], heads.confidence[bare])
        n = len(riders)
        columns: dict[str, np.ndarray[Any, Any]] = {
            HEADS: np.full(n, NOT_LOOKED, dtype=np.int64),
            BARE_HEADS: np.zeros(n, dtype=np.int64),
            BARE_SCORE: np.zeros(n, dtype=np.float32),
        }
        looked = wanted[rows]
        found: tuple[np.ndarray[Any, Any], ...] = (per_rider, bare_per_rider, best_bare)
        for name, values in zip(columns, found, strict=True):
            columns[name][rows[looked]] = values[looked]
        return columns


def assign_heads(
    bikes_xyxy: np.ndarray[Any, Any], heads_xyxy: np.ndarray[Any, Any], head_band: float
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Give each head to the motorbike box it sits in, or -1.

    A head belongs to a box when its centre is inside the box horizontally (with 10 % slack)
    and in the box's top ``head_band`` (or slightly above the box); among several such
    boxes the smallest wins (the nearer, tighter box in dense traffic).

    Returns:
        For each head, the row of its motorbike in ``bikes_xyxy``, or -1.
    """
    owner = np.full(len(heads_xyxy), -1, dtype=np.int64)
    if len(bikes_xyxy) == 0 or len(heads_xyxy) == 0:
        return owner
    cx = (heads_xyxy[:, 0] + heads_xyxy[:, 2]) / 2
    cy = (heads_xyxy[:, 1] + heads_xyxy[:, 3]) / 2
    x1, y1, x2, y2 = (bikes_xyxy[:, i][None, :] for i in range(4))
    width, height = x2 - x1, y2 - y1
    inside = (
        (cx[:, None] >= x1 - 0.1 * width)
        & (cx[:, None] <= x2 + 0.1 * width)
        & (cy[:, None] >= y1 - 0.15 * height)
        & (cy[:, None] <= y1 + head_band * height)
    )
    area = np.broadcast_to(width * height, inside.shape)
    cost = np.where(inside, area, np.inf)
    best = np.argmin(cost, axis=1)
    has = np.isfinite(cost[np.arange(len(cost)), best])
    owner[has] = best[has]
    return owner


def one_class_per_head(heads: Detections, iou: float = 0.5) -> Detections:
    """Keep the better-scored class where the model boxed one head as both classes.

    The detector's NMS is per class, so an unsure head can come back as a helmet box and a
    bare-head box on top of each other; the tracker's class-agnostic duplicate suppression
    keeps one (containment off: a small head box inside a large one is another rider).
    """
    return suppress_duplicates(heads, iou=iou, contained=float("inf"))


def load_head_detector(model: Path, confidence: float) -> HeadDetector:
    """Load the head model (the bundled ``vn-helmet`` or an ONNX path)."""
    from edge.detector import Detector, DetectorConfig

    logger.info("helmet enricher: loading head model %s", model)
    return Detector(DetectorConfig(model=model, confidence=confidence))
