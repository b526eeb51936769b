"""No helmet: a tracked motorbike whose rider or passenger is seen bare-headed on several frames.

A second, small detector (the bundled ``vn-helmet`` model: ``head_helmet`` /
``head_no_helmet``) runs on the whole frame, every few frames and only while some
motorbike in view is still undecided. Each head is given to the motorbike box it sits in
(the top part of the box, where riders' heads are; the smallest such box in dense
traffic). The verdict is a vote over the track's frames, never one frame: one event per
track when enough frames saw a bare head. Evidence goes through the usual evidence
writer, which pixelates riders' heads after this rule has classified them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import Field

from edge.detections import Detections
from edge.rules.base import (
    FrameContext,
    Rule,
    RuleParams,
    RuleSetup,
    make_event,
    prune,
)
from edge.tracking.prefilter import suppress_duplicates
from traffic_monitor.contract import Event, EventType, Severity

logger = logging.getLogger(__name__)

HEAD_DETECTOR = "head_detector"
"""Key of an injected head detector in ``RuleSetup.services`` (tests, shared instances)."""

NO_HELMET, HELMET = "head_no_helmet", "head_helmet"


class HeadDetector(Protocol):
    """What the rule needs of a detector: heads of one frame and their class names."""

    names: tuple[str, ...]

    def detect_one(self, frame: np.ndarray[Any, Any]) -> Detections:
        """Detect heads in one BGR frame."""
        ...


class HelmetParams(RuleParams):
    """Parameters of the helmet rule."""

    model: Path = Field(
        default=Path("vn-helmet"),
        description="Head model: a bundled name (vn-helmet) or an ONNX path with "
        "head_helmet / head_no_helmet classes (aliases such as without_helmet accepted).",
    )
    confidence: float = Field(
        default=0.25, ge=0, le=1, description="Minimum score of a head detection."
    )
    every_n_frames: int = Field(
        default=2, ge=1, description="Run the head model on every n-th frame (cost)."
    )
    min_votes: int = Field(
        default=3, ge=1, description="Frames with a bare head needed before the event."
    )
    min_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Share of the track's head-seen frames that must show a bare head.",
    )
    head_band: float = Field(
        default=0.55,
        gt=0,
        le=1,
        description="A head belongs to a motorbike when its centre lies in this top fraction "
        "of the box (the box covers rider and bike).",
    )
    classes: list[str] = Field(
        default_factory=lambda: ["motorcycle", "bicycle"],
        description="Road-user classes whose riders are checked.",
    )


@dataclass
class _Votes:
    """Per-track tally (dies with the track)."""

    seen: int = 0
    bare: int = 0
    riders: int = 0
    bare_riders: int = 0
    bare_score: float = 0.0
    reported: bool = False


class HelmetRule(Rule):
    """``no_helmet`` for a motorbike whose rider is voted bare-headed over its track."""

    name = "no_helmet"
    Params = HelmetParams
    loads_model = True

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Load (or take the injected) head detector."""
        super().__init__(params, setup)
        assert isinstance(params, HelmetParams)
        self.p = params
        self.heads: HeadDetector = setup.services.get(HEAD_DETECTOR) or _load(params)
        missing = {NO_HELMET, HELMET} - set(self.heads.names)
        if missing:
            raise ValueError(f"head model lacks class(es) {', '.join(sorted(missing))}")
        self._bare_id = self.heads.names.index(NO_HELMET)
        self._votes: dict[int, _Votes] = {}

    def process(self, frame: FrameContext) -> list[Event]:
        """Vote on this frame's riders and report tracks whose vote has tipped."""
        prune(self._votes, lambda track_id: track_id in frame.tracks)
        if frame.image is None or frame.index % self.p.every_n_frames:
            return []
        bikes = frame.tracked(self.p.classes)
        undecided = [row for row in bikes if not self._tally(int(bikes.tracker_id[row])).reported]
        if not undecided:
            return []
        heads = self.heads.detect_one(frame.image)
        heads = one_class_per_head(heads[heads.confidence >= self.p.confidence])
        owner = assign_heads(bikes.xyxy, heads.xyxy, self.p.head_band)
        return [
            event for row in undecided if (event := self._vote(frame, bikes, row, heads, owner))
        ]

    def _tally(self, track_id: int) -> _Votes:
        return self._votes.setdefault(track_id, _Votes())

    def _vote(
        self,
        frame: FrameContext,
        bikes: Detections,
        row: int,
        heads: Detections,
        owner: np.ndarray[Any, np.dtype[np.int64]],
    ) -> Event | None:
        mine = heads[owner == row]
        if len(mine) == 0:
            return None
        votes = self._tally(int(bikes.tracker_id[row]))
        bare = mine.class_id == self._bare_id
        votes.seen += 1
        votes.riders = max(votes.riders, len(mine))
        if bare.any():
            votes.bare += 1
            votes.bare_riders = max(votes.bare_riders, int(bare.sum()))
            votes.bare_score += float(mine.confidence[bare].max())
        share = votes.bare / votes.seen
        if votes.bare < self.p.min_votes or share < self.p.min_share:
            return None
        votes.reported = True
        return self._event(frame, bikes, row, votes, share)

    def _event(
        self, frame: FrameContext, bikes: Detections, row: int, votes: _Votes, share: float
    ) -> Event:
        event = make_event(
            frame,
            self.name,
            EventType.NO_HELMET,
            severity=Severity.MEDIUM,
            row=row,
            detections=bikes,
            measurements={
                "riders": float(votes.riders),
                "riders_without_helmet": float(votes.bare_riders),
                "vote_share": round(share, 3),
                "frames_voted": float(votes.seen),
            },
        )
        confidence = share * votes.bare_score / votes.bare
        return event.model_copy(update={"confidence": round(min(confidence, 1.0), 3)})

    def state_size(self) -> int:
        """Tracks with a tally."""
        return len(self._votes)


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


def _load(params: HelmetParams) -> HeadDetector:
    from edge.detector import Detector, DetectorConfig

    logger.info("helmet rule: loading head model %s", params.model)
    return Detector(DetectorConfig(model=params.model, confidence=params.confidence))
