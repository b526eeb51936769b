"""Pedestrian on the carriageway outside crosswalks; riders of two-wheelers are not counted."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, RuleParams, RuleSetup, register_rule
from edge.rules.incidents import IncidentParams, TrackIncidentRule, Verdict
from edge.rules.zones import select_zones
from edge.scene import ZoneKind
from traffic_monitor.contract import EventType, Severity

TWO_WHEELERS = ("motorcycle", "bicycle")


class PedestrianParams(IncidentParams):
    """Parameters of the pedestrian-on-carriageway rule."""

    on_s: float = Field(
        default=1.0, ge=0, description="Seconds on the carriageway before the event."
    )
    zones: list[str] | None = Field(
        default=None, description="Carriageway zone names; empty: every carriageway zone."
    )
    rider_overlap: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description=(
            "A person whose box overlaps a motorbike/bicycle box by this fraction of its own "
            "area is a rider. Lower excludes more riders and some pedestrians beside bikes."
        ),
    )


@register_rule
class PedestrianOnCarriagewayRule(TrackIncidentRule):
    """``pedestrian_on_carriageway`` for a person (not a rider) on the road outside crosswalks."""

    name = "pedestrian_on_carriageway"
    Params = PedestrianParams
    event_type = EventType.PEDESTRIAN_ON_CARRIAGEWAY
    severity = Severity.HIGH
    default_classes = ("person",)

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve zones."""
        super().__init__(params, setup)
        assert isinstance(params, PedestrianParams)
        self.p = params
        self.zones = select_zones(setup.scene, params.zones, [ZoneKind.CARRIAGEWAY])
        self.crosswalks = setup.scene.zones_of(ZoneKind.CROSSWALK, ZoneKind.SIDEWALK)

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """On the carriageway, not on a crosswalk, not riding."""
        zone = next((z for z in self.zones if self.anchor_in(frame, z.polygon, row)), None)
        if zone is None:  # most people: on the pavement, no other test needed
            return Verdict(condition=False)
        on_crosswalk = any(self.anchor_in(frame, walk.polygon, row) for walk in self.crosswalks)
        if on_crosswalk or self._riders(frame, tracked)[row]:
            return Verdict(condition=False)
        return Verdict(condition=True, zone=zone.name)

    def _riders(self, frame: FrameContext, tracked: Detections) -> npt.NDArray[np.bool_]:
        """Which rows of ``tracked`` (the rule's classes) ride a two-wheeler, once per frame."""
        key = ("riders", self.scope, self.p.rider_overlap)
        return frame.cached(key, lambda: _riding(tracked.xyxy, frame, self.p.rider_overlap))


def _riding(
    boxes: npt.NDArray[np.float32], frame: FrameContext, min_overlap: float
) -> npt.NDArray[np.bool_]:
    """Rows of ``boxes`` overlapping a two-wheeler box by ``min_overlap`` of their own area."""
    bikes = _two_wheeler_boxes(frame)
    if len(bikes) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), dtype=bool)
    x1 = np.maximum(bikes[None, :, 0], boxes[:, None, 0])
    y1 = np.maximum(bikes[None, :, 1], boxes[:, None, 1])
    x2 = np.minimum(bikes[None, :, 2], boxes[:, None, 2])
    y2 = np.minimum(bikes[None, :, 3], boxes[:, None, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-6)
    riding: npt.NDArray[np.bool_] = np.any(inter / area[:, None] >= min_overlap, axis=1)
    return riding


def _two_wheeler_boxes(frame: FrameContext) -> np.ndarray:  # type: ignore[type-arg]
    """Boxes of every detection (tracked or not) of a two-wheeler class (its own class)."""
    dets = frame.detections
    names = [frame.class_name(int(c)) for c in dets.class_id]
    return dets.xyxy[[name in TWO_WHEELERS for name in names]]
