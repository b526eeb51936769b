"""Per-camera analytics: track → enrich → rules → evidence, one frame at a time, as named steps.

The enrich step runs the second-stage models the rules ask for (:mod:`edge.enrich`, e.g.
the helmet head model), each once per frame for the rows it needs, and adds their columns
to the tracked detections before any rule reads them.

Each rule (with its enrichers) and the evidence stage run inside an error boundary: a rule
or an enricher that raises loses its rule's events of that frame, the other rules and the
evidence go on, and the failure is kept in :attr:`CameraAnalytics.faults` for the
pipeline's supervisor to report (log, metric, ``camera_status`` event) and, when it
repeats, to switch the rule off (with its enrichers).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections
from edge.pipeline.sink import OutgoingEvent
from edge.rules import ExternalSignalStates, FrameContext, Rule, RuleSetup, build_rules, kinematics
from edge.rules.base import WorldTransform
from edge.rules.red_light import SIGNAL_BOARD
from edge.rules.signals import SignalBoard
from edge.rules.view_motion import views_of
from edge.scene import SceneConfig
from edge.scene.geometry import as_points, in_polygon
from edge.scene.transform import world_transform
from edge.tracking import TrackedFrame, Tracker, buffered_iou, build_tracker
from edge.tracking.prefilter import one_box_per_road_user, suppress_duplicates
from traffic_monitor.contract import Event

logger = logging.getLogger(__name__)


MAX_FAULTS_KEPT = 64
"""Failures kept until they are taken (the oldest go first when nobody takes them)."""
EVIDENCE_STAGE = "evidence"
RULE_STAGE_PREFIX = "rule:"


class EvidenceHook(Protocol):
    """Encodes evidence (blurred snapshot and crop) for the events that need it."""

    def attach(
        self,
        events: Sequence[Event],
        image: np.ndarray[Any, Any] | None,
        detections: Detections,
    ) -> list[OutgoingEvent]:
        """The events with their images; ``detections``: everyone in the frame, to blur."""
        ...


@dataclass(frozen=True)
class StageFault:
    """A part of a camera's analytics raised on a frame and the others went on.

    Attributes:
        stage: ``rule:<name>`` or ``evidence``.
        error: What it raised.
        frame_index: The frame it raised on.
    """

    stage: str
    error: Exception
    frame_index: int


class CameraAnalytics:
    """Everything after detection for one camera: tracker, rules and their state."""

    def __init__(
        self,
        scene: SceneConfig,
        class_names: Sequence[str],
        *,
        transform: WorldTransform | None = None,
        external_signals: ExternalSignalStates | None = None,
        evidence: EvidenceHook | None = None,
        services: Mapping[str, Any] | None = None,
        node_id: str = "default",
    ) -> None:
        """Build the tracker and the rules of a scene.

        Args:
            scene: The camera's validated scene config.
            class_names: The detector's class names.
            transform: Pixel → road-plane transform; default: the scene's calibration if any.
            external_signals: Shared table of externally pushed signal states (MQTT).
            evidence: Evidence writer; none means events carry no images.
            services: Shared objects for rules and their enrichers by key (e.g. an already
                loaded head detector).
            node_id: The edge node's id, stamped on events where they are made.
        """
        self.scene = scene
        self.node_id = node_id
        self.class_names = tuple(class_names)
        if transform is None:
            transform = world_transform(scene.calibration)
        self.signals = SignalBoard(scene.signals, external_signals)
        shared = {**(services or {}), SIGNAL_BOARD: self.signals}
        setup = RuleSetup(scene, self.class_names, transform, shared)
        self.tracker: Tracker = build_tracker(
            scene.tracker, self.class_names, [(line.start, line.end) for line in scene.lines]
        )
        self._roi = as_points(scene.roi) if scene.roi is not None else None
        self.rules: list[Rule] = build_rules(setup)
        self._views = views_of(shared)  # the rules that measure motion asked for them
        warm_up_kernels()
        self.evidence = evidence
        self.faults: deque[StageFault] = deque(maxlen=MAX_FAULTS_KEPT)
        """Failures of rules and of the evidence stage since :meth:`take_faults` (a pipeline takes
        them after every frame; bounded for callers that never do)."""
        self._last: FrameContext | None = None

    def process(
        self,
        detections: Detections,
        *,
        index: int,
        timestamp: float,
        wall_time: float | None = None,
        image: np.ndarray[Any, Any] | None = None,
    ) -> list[Event]:
        """Run one frame: track, build the rule context, run every rule (events only)."""
        outgoing = self.process_frame(
            detections, index=index, timestamp=timestamp, wall_time=wall_time, image=image
        )
        return [item.event for item in outgoing]

    def process_frame(
        self,
        detections: Detections,
        *,
        index: int,
        timestamp: float,
        wall_time: float | None = None,
        image: np.ndarray[Any, Any] | None = None,
    ) -> list[OutgoingEvent]:
        """Run one frame: track, build the rule context, run every rule, encode evidence.

        Args:
            detections: The frame's detections.
            index: Frame index in the source.
            timestamp: Seconds on the camera's clock (media time for files).
            wall_time: Unix time the frame shows (events are stamped with it); default:
                ``timestamp``.
            image: The frame (evidence, camera health); None where a caller has none.

        Returns:
            The frame's events, each with the evidence images encoded for it.
        """
        inside, outside = self._split_roi(detections)
        tracked = self._track(inside, timestamp)
        enriched = self._enrich(tracked.detections, index, timestamp, image)
        frame = self._context(
            tracked, enriched, index=index, timestamp=timestamp, wall_time=wall_time, image=image
        )
        self._follow_view(timestamp, image)
        events = self._run_rules(frame)
        return self._attach_evidence(events, _everyone(tracked.detections, outside), image)

    def finish(self) -> list[Event]:
        """End open incidents and flush aggregates (at shutdown); a rule that raises is skipped."""
        if self._last is None:
            return []
        events: list[Event] = []
        for rule in self.rules:
            try:
                events.extend(rule.finish(self._last))
            except Exception as exc:  # the other rules still end their incidents
                self._fault(RULE_STAGE_PREFIX + rule.name, exc, self._last.index)
        return events

    def take_faults(self) -> list[StageFault]:
        """The failures recorded since the last call (and forget them)."""
        faults = list(self.faults)
        self.faults.clear()
        return faults

    def disable_rule(self, name: str) -> bool:
        """Stop running a rule on this camera (it keeps failing); True if it was running."""
        kept = [rule for rule in self.rules if rule.name != name]
        removed = len(kept) != len(self.rules)
        self.rules = kept
        return removed

    def disable_evidence(self) -> None:
        """Stop encoding evidence on this camera (it keeps failing); events go without."""
        self.evidence = None

    def state_sizes(self) -> dict[str, int]:
        """Entries of state held by the tracker and each rule (memory checks, metrics)."""
        sizes = {"tracks": len(self.tracker.tracks)}
        sizes.update({f"rule:{rule.name}": rule.state_size() for rule in self.rules})
        return sizes

    def _track(self, detections: Detections, timestamp: float) -> TrackedFrame:
        boxes = one_box_per_road_user(detections, self.scene.tracker, self.class_names)
        return self.tracker.update(boxes, timestamp)

    def _split_roi(self, detections: Detections) -> tuple[Detections, Detections]:
        """Detections with the anchor (bottom centre) inside the scene's ROI, and the rest.

        Only those inside are tracked and seen by the rules; the rest are still blurred in
        evidence images.
        """
        if self._roi is None or len(detections) == 0:
            return detections, Detections.empty()
        inside = in_polygon(self._roi, as_points(detections.bottom_center))
        return detections[inside], detections[~inside]

    def _enrich(
        self,
        detections: Detections,
        index: int,
        timestamp: float,
        image: np.ndarray[Any, Any] | None,
    ) -> Detections:
        """Add the columns of every rule's enrichers; one that raises is a fault of its rule."""
        for rule in self.rules:
            for enricher in rule.enrichers():
                try:
                    detections = enricher.enrich(image, detections, timestamp)
                except Exception as exc:  # its rule sees no column this frame; the others go on
                    self._fault(RULE_STAGE_PREFIX + rule.name, exc, index)
        return detections

    def _context(
        self,
        tracked: TrackedFrame,
        detections: Detections,
        *,
        index: int,
        timestamp: float,
        wall_time: float | None,
        image: np.ndarray[Any, Any] | None,
    ) -> FrameContext:
        moment = datetime.fromtimestamp(wall_time if wall_time is not None else timestamp, UTC)
        frame = FrameContext(
            camera_id=self.scene.camera.id,
            site_id=self.scene.camera.site,
            node_id=self.node_id,
            index=index,
            timestamp=timestamp,
            time=moment,
            detections=detections,
            tracks=self.tracker.tracks,
            class_names=self.class_names,
            image=image,
            ended=tracked.ended,
        )
        self._last = frame
        return frame

    def _follow_view(self, timestamp: float, image: np.ndarray[Any, Any] | None) -> None:
        """How far the camera's view moved (pan, tilt), for the rules that measure motion."""
        if image is not None:
            for view in self._views:
                view.update(timestamp, image)

    def _run_rules(self, frame: FrameContext) -> list[Event]:
        """Every rule on the frame; one that raises loses this frame's events, not the others'."""
        events: list[Event] = []
        for rule in self.rules:
            try:
                events.extend(rule.process(frame))
            except Exception as exc:  # error boundary: recorded, reported by the supervisor
                self._fault(RULE_STAGE_PREFIX + rule.name, exc, frame.index)
        return events

    def _attach_evidence(
        self, events: list[Event], everyone: Detections, image: np.ndarray[Any, Any] | None
    ) -> list[OutgoingEvent]:
        if self.evidence is None or not events:
            return [OutgoingEvent(event) for event in events]
        try:
            return self.evidence.attach(events, image, everyone)
        except Exception as exc:  # the events go without images (their evidence says none)
            self._fault(EVIDENCE_STAGE, exc, self._last.index if self._last else -1)
            return [OutgoingEvent(event) for event in events]

    def _fault(self, stage: str, error: Exception, frame_index: int) -> None:
        self.faults.append(StageFault(stage, error, frame_index))


@cache
def warm_up_kernels() -> None:
    """Compile, or load from numba's cache, the per-frame steps built with ``edge.compiled``.

    Done when a camera's analytics are built (once per process), so its first frames do not
    pay for it (seconds on the first start of a box, tenths of a second on later ones).
    """
    kinematics.warm_up()
    pair = Detections(
        np.array([[0, 0, 2, 2], [0, 0, 2, 2]], dtype=np.float32),
        np.array([0.9, 0.8], dtype=np.float32),
        np.zeros(2, dtype=np.int64),
    )
    suppress_duplicates(pair)
    buffered_iou(pair.xyxy.astype(np.float64), pair.xyxy.astype(np.float64), 0.1)
    in_polygon(as_points([[0, 0], [4, 0], [0, 4]]), as_points(pair.bottom_center))


def _everyone(tracked: Detections, outside: Detections) -> Detections:
    """Every road user in the image (tracked ones and those outside the ROI), for blurring."""
    if len(outside) == 0:
        return tracked
    parts = [
        Detections(
            part.xyxy,
            part.confidence,
            part.class_id,
            part.tracker_id,
            {"track_class_id": part.data.get("track_class_id", part.class_id)},
        )
        for part in (tracked, outside)
    ]
    return Detections.merge(parts)
