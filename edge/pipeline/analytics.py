"""Per-camera analytics: track → rules → evidence, one frame at a time, as named steps."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections
from edge.rules import ExternalSignalStates, FrameContext, Rule, RuleSetup, build_rules, kinematics
from edge.rules.base import WorldTransform
from edge.rules.red_light import SIGNAL_BOARD
from edge.rules.signals import SignalBoard
from edge.scene import SceneConfig
from edge.scene.geometry import as_points, in_polygon
from edge.scene.transform import HomographyTransform
from edge.tracking import ByteTracker
from edge.tracking.bytetrack import buffered_iou
from edge.tracking.prefilter import merge_riders, suppress_duplicates
from traffic_monitor.contract import Event

logger = logging.getLogger(__name__)


class EvidenceHook(Protocol):
    """Attaches evidence (blurred snapshot and crop) to events that need it."""

    def set_frame(self, detections: Detections) -> None:
        """Receive the frame's tracked detections (to blur everyone in it)."""
        ...

    def attach(self, events: list[Event], image: np.ndarray[Any, Any] | None) -> list[Event]:
        """Return the events, with evidence recorded where images were written."""
        ...


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
    ) -> None:
        """Build the tracker and the rules of a scene.

        Args:
            scene: The camera's validated scene config.
            class_names: The detector's class names.
            transform: Pixel → road-plane transform; default: the scene's homography if any.
            external_signals: Shared table of externally pushed signal states (MQTT).
            evidence: Evidence writer; none means events carry no images.
            services: Shared objects for rules by key (e.g. an already loaded head detector).
        """
        self.scene = scene
        self.class_names = tuple(class_names)
        if transform is None and scene.calibration is not None:
            transform = HomographyTransform(scene.calibration)
        self.signals = SignalBoard(scene.signals, external_signals)
        shared = {**(services or {}), SIGNAL_BOARD: self.signals}
        setup = RuleSetup(scene, self.class_names, transform, shared)
        self.tracker = ByteTracker(
            scene.tracker, self.class_names, lines=[(line.start, line.end) for line in scene.lines]
        )
        self._roi = as_points(scene.roi) if scene.roi is not None else None
        self.rules: list[Rule] = build_rules(setup)
        warm_up_kernels()
        self.evidence = evidence
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
        """Run one frame: track, build the rule context, run every rule, attach evidence."""
        inside, outside = self._split_roi(detections)
        tracked = self._track(inside, timestamp)
        frame = self._context(tracked, index, timestamp, wall_time, image)
        events = self._run_rules(frame)
        return self._attach_evidence(events, _everyone(tracked, outside), image)

    def finish(self) -> list[Event]:
        """End open incidents and flush aggregates (at shutdown)."""
        if self._last is None:
            return []
        events: list[Event] = []
        for rule in self.rules:
            events.extend(rule.finish(self._last))
        return events

    def state_sizes(self) -> dict[str, int]:
        """Entries of state held by the tracker and each rule (memory checks, metrics)."""
        sizes = {"tracks": len(self.tracker.tracks)}
        sizes.update({f"rule:{rule.name}": rule.state_size() for rule in self.rules})
        return sizes

    def _track(self, detections: Detections, timestamp: float) -> Detections:
        detections = suppress_duplicates(detections, self.scene.tracker.duplicate_iou)
        if self.scene.tracker.merge_riders:
            detections = merge_riders(detections, self.class_names)
        return self.tracker.update(detections, timestamp)

    def _split_roi(self, detections: Detections) -> tuple[Detections, Detections]:
        """Detections with the anchor (bottom centre) inside the scene's ROI, and the rest.

        Only those inside are tracked and seen by the rules; the rest are still blurred in
        evidence images.
        """
        if self._roi is None or len(detections) == 0:
            return detections, Detections.empty()
        inside = in_polygon(self._roi, as_points(detections.bottom_center))
        return detections[inside], detections[~inside]

    def _context(
        self,
        tracked: Detections,
        index: int,
        timestamp: float,
        wall_time: float | None,
        image: np.ndarray[Any, Any] | None,
    ) -> FrameContext:
        moment = datetime.fromtimestamp(wall_time if wall_time is not None else timestamp, UTC)
        frame = FrameContext(
            camera_id=self.scene.camera.id,
            site_id=self.scene.camera.site,
            index=index,
            timestamp=timestamp,
            time=moment,
            detections=tracked,
            tracks=self.tracker.tracks,
            class_names=self.class_names,
            image=image,
        )
        self._last = frame
        return frame

    def _run_rules(self, frame: FrameContext) -> list[Event]:
        events: list[Event] = []
        for rule in self.rules:
            events.extend(rule.process(frame))
        return events

    def _attach_evidence(
        self, events: list[Event], tracked: Detections, image: np.ndarray[Any, Any] | None
    ) -> list[Event]:
        if self.evidence is None or not events:
            return events
        self.evidence.set_frame(tracked)
        return self.evidence.attach(events, image)


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
