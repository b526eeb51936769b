"""No helmet: a tracked motorbike whose rider or passenger is seen bare-headed on several frames.

The head model is not run here: the rule builds a :class:`~edge.enrich.helmet.HelmetEnricher`
from its settings (the enrichment stage runs it between tracking and the rules, every few
frames and only for the motorbikes this rule has not decided yet) and reads the columns it
writes: heads seen on each motorbike and how many were bare. The verdict is a vote over the
track's frames, never one frame: one event per track when enough frames saw a bare head.
Evidence goes through the usual evidence writer, which pixelates riders' heads after this
rule has classified them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from edge.detections import Detections
from edge.enrich import Enricher
from edge.enrich.head_classifier import HEAD_CLASSIFIER, HeadClassifier, resolve_classifier
from edge.enrich.helmet import (
    BARE_HEADS,
    BARE_SCORE,
    HEAD_DETECTOR,
    HEADS,
    BareClassifier,
    HeadDetector,
    HelmetEnricher,
    load_head_detector,
)
from edge.rules.base import (
    FrameContext,
    Rule,
    RuleParams,
    RuleSetup,
    make_event,
    prune,
)
from traffic_monitor.contract import Event, EventType, Severity


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
    classifier: Path | None = Field(
        default=None,
        description="Second look at each head given to a rider, from a crop of the frame at "
        "its own resolution: a bundled name (vn-head-classifier) or an ONNX path; its verdict "
        "replaces the head model's class. Empty: the head model's class stands (the default: "
        "on the overpass clip the classifier called red and pink helmets bare; see the model "
        "card).",
    )
    check_interval_s: float = Field(
        default=0.2,
        ge=0,
        le=60,
        description="Run the head model at most once per this many seconds of media time "
        "(cost): 0.2 is every other frame of a camera processed at 10 fps; 0: every processed "
        "frame.",
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
        """Build the helmet enricher with the injected (or a freshly loaded) head detector."""
        super().__init__(params, setup)
        assert isinstance(params, HelmetParams)
        self.p = params
        heads: HeadDetector = setup.services.get(HEAD_DETECTOR) or load_head_detector(
            params.model, params.confidence
        )
        classifier: BareClassifier | None = setup.services.get(HEAD_CLASSIFIER)
        if classifier is None and params.classifier is not None:
            classifier = HeadClassifier(resolve_classifier(params.classifier))
        self._votes: dict[int, _Votes] = {}
        self.enricher = HelmetEnricher(
            heads,
            setup.class_names,
            classes=params.classes,
            confidence=params.confidence,
            check_interval_s=params.check_interval_s,
            head_band=params.head_band,
            needs=self._undecided,
            classifier=classifier,
        )

    def enrichers(self) -> Sequence[Enricher]:
        """The helmet enricher: head counts per motorbike on the frames the model ran."""
        return (self.enricher,)

    def process(self, frame: FrameContext) -> list[Event]:
        """Vote on this frame's riders and report tracks whose vote has tipped."""
        prune(self._votes, lambda track_id: track_id in frame.tracks)
        if HEADS not in frame.detections.data:  # the head model did not run on this frame
            return []
        bikes = frame.tracked(self.p.classes)
        undecided = [row for row in bikes if not self._tally(int(bikes.tracker_id[row])).reported]
        return [event for row in undecided if (event := self._vote(frame, bikes, row))]

    def _undecided(self, track_id: int) -> bool:
        """Whether a track still needs the head model (no event reported for it yet)."""
        votes = self._votes.get(track_id)
        return votes is None or not votes.reported

    def _tally(self, track_id: int) -> _Votes:
        return self._votes.setdefault(track_id, _Votes())

    def _vote(self, frame: FrameContext, bikes: Detections, row: int) -> Event | None:
        seen = int(bikes.data[HEADS][row])
        if seen <= 0:  # no head on this motorbike (or not looked at)
            return None
        votes = self._tally(int(bikes.tracker_id[row]))
        bare = int(bikes.data[BARE_HEADS][row])
        votes.seen += 1
        votes.riders = max(votes.riders, seen)
        if bare:
            votes.bare += 1
            votes.bare_riders = max(votes.bare_riders, bare)
            votes.bare_score += float(bikes.data[BARE_SCORE][row])
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
