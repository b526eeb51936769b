"""Pedestrian on the carriageway outside crosswalks and sidewalks; riders are not pedestrians."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, RuleParams, RuleSetup
from edge.rules.incidents import IncidentParams, TrackIncidentRule, Verdict
from edge.rules.riders import RiderJudge, RiderSettings
from edge.rules.zones import select_zones
from edge.scene import ZoneKind
from traffic_monitor.contract import EventType, Severity


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
    rider_vote_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description=(
            "A person track whose detections were a two-wheeler or a vehicle for at least "
            "this share (summed confidence) is a rider whose motorbike the detector saw at "
            "times. Lower excludes more riders, and pedestrians a box once mistook."
        ),
    )
    max_walking_kmh: float = Field(
        default=10.0,
        gt=0,
        description=(
            "With a calibration: a person faster than this on the road plane rides (a "
            "motorcyclist boxed as a person). Higher keeps joggers, and passes slow riders."
        ),
    )
    max_walking_heights_s: float = Field(
        default=1.5,
        gt=0,
        description=(
            "Without a calibration: a person whose feet move faster than this many of their "
            "box heights per second rides. Weak along the line of sight (few pixels per metre)."
        ),
    )
    speed_window_s: float = Field(
        default=1.0,
        gt=0,
        description="Seconds of track history a person's speed is fitted on.",
    )


class PedestrianOnCarriagewayRule(TrackIncidentRule):
    """``pedestrian_on_carriageway``: a person on foot on the road outside crosswalks.

    The person must be known to be on foot: not riding (``edge.rules.riders``: on or over a
    two-wheeler, voted a vehicle, or ever faster than walking) and with a measured speed at
    walking pace, so a new track is judged only once its speed is known.
    """

    name = "pedestrian_on_carriageway"
    Params = PedestrianParams
    event_type = EventType.PEDESTRIAN_ON_CARRIAGEWAY
    severity = Severity.HIGH
    default_classes = ("person",)

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve zones and set up the rider judge."""
        super().__init__(params, setup)
        assert isinstance(params, PedestrianParams)
        self.p = params
        self.zones = select_zones(setup.scene, params.zones, [ZoneKind.CARRIAGEWAY])
        self.crosswalks = setup.scene.zones_of(ZoneKind.CROSSWALK, ZoneKind.SIDEWALK)
        settings = RiderSettings(
            overlap=params.rider_overlap,
            vote_share=params.rider_vote_share,
            max_walking_kmh=params.max_walking_kmh,
            max_walking_heights_s=params.max_walking_heights_s,
            window_s=params.speed_window_s,
        )
        self.riders = RiderJudge(settings, setup.transform)
        self.unit = "kmh" if setup.transform is not None else "heights_s"

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """On the carriageway, not on a crosswalk or sidewalk, on foot at walking pace."""
        zone = next((z for z in self.zones if self.anchor_in(frame, z.polygon, row)), None)
        if zone is None:  # most people: on the pavement, no other test needed
            return Verdict(condition=False)
        on_crosswalk = any(self.anchor_in(frame, walk.polygon, row) for walk in self.crosswalks)
        if on_crosswalk or self._riders(frame, tracked)[row]:
            return Verdict(condition=False)
        speed = self.riders.walking_speed(frame, frame.tracks[int(tracked.tracker_id[row])])
        if speed is None:  # too young a track to tell a walker from a rider
            return Verdict(condition=False, zone=zone.name)
        return Verdict(
            condition=True, zone=zone.name, measurements={f"speed_{self.unit}": round(speed, 2)}
        )

    def _riders(self, frame: FrameContext, tracked: Detections) -> npt.NDArray[np.bool_]:
        """Which rows of ``tracked`` (the rule's classes) ride, judged once per frame."""
        return frame.cached(("riders", id(self)), lambda: self.riders.riding(frame, tracked))

    def state_size(self) -> int:
        """Per-track timers, sightings, open incidents and remembered riders."""
        return super().state_size() + self.riders.state_size()
