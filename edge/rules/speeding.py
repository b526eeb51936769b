"""Speed per track on the road plane, and ``speeding`` above the zone's limit for the class."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, RuleParams, RuleSetup, WorldTransform
from edge.rules.incidents import IncidentParams, TrackIncidentRule, Verdict
from edge.rules.kinematics import MPS_TO_KMH, ROAD_JUMPS, box_at_frame_edge
from edge.rules.motion import shared_world_speed
from edge.rules.view_motion import shared_view_motion
from traffic_monitor.contract import EventType, Severity

RIDER_CLASS = {"person": "motorcycle"}
"""A person at a vehicle's speed rides: the limit of the class they ride."""


class SpeedingParams(IncidentParams):
    """Parameters of the speeding rule."""

    on_s: float = Field(
        default=0.5, ge=0, description="Seconds above the limit before the event starts."
    )
    window_s: float = Field(
        default=1.0,
        gt=0,
        description="Speed is a least-squares fit over this window: longer is smoother and lags.",
    )
    tolerance_kmh: float = Field(
        default=5.0, ge=0, description="Margin above the limit before speeding (enforcement-style)."
    )
    use_uncertainty: bool = Field(
        default=True,
        description="Judge speed minus its uncertainty (fewer false alarms, misses marginal ones).",
    )
    max_plausible_kmh: float = Field(
        default=200.0, gt=0, description="Faster estimates are tracking errors and are ignored."
    )
    min_span_s: float = Field(
        default=0.6,
        ge=0,
        description="No speed until the anchors kept in the window span this many seconds.",
    )
    reject_jumps: bool = Field(
        default=True,
        description="Leave out anchor jumps (id switches, boxes swallowing a neighbour) "
        "before the fit; the window is cut at a jump.",
    )
    edge_margin_px: float = Field(
        default=4.0,
        ge=0,
        description="No speed while the box is this close to the left, right or bottom frame "
        "edge (a cut-off box has no true contact point); anchors this close to the bottom "
        "are left out of the fit. Needs the frame image.",
    )
    error_m: float | None = Field(
        default=None,
        ge=0,
        description="Position error of the calibration in metres; empty: the scene's value.",
    )
    max_view_shift_px: float = Field(
        default=3.0,
        ge=0,
        description="No speed while the camera's view moved more than this many frame pixels "
        "over the fit window (a pan, a tilt, a settling PTZ head: every box moves with the "
        "view, and the calibration holds for one view). A fixed camera reads about 0.1. "
        "Needs the frame image.",
    )
    max_metres_per_px: float = Field(
        default=0.3,
        gt=0,
        description="No speed where one pixel at the anchor is more than this many metres of "
        "road (far from the camera, towards the horizon): there a box's pixel of jitter is "
        "metres, and a flat-road calibration is least true. Lower measures a shorter, nearer "
        "stretch of road.",
    )


class SpeedingRule(TrackIncidentRule):
    """``speeding`` with the measured speed and its uncertainty (needs a calibration).

    Every event of an incident carries the highest speed measured while the vehicle was
    over the limit (``peak_measurement``): never a speed below limit + tolerance.

    ``person`` tracks are checked too, against the motorcycle limit: nobody on foot reaches a
    speed limit, and a motorcyclist seen from in front or behind is often boxed as a person
    in most frames (``edge.rules.riders``), which would hide them from a vehicle rule.
    """

    name = "speeding"
    Params = SpeedingParams
    event_type = EventType.SPEEDING
    severity = Severity.MEDIUM
    default_classes = ("car", "bus", "truck", "motorcycle", "person")
    peak_measurement = "speed_kmh"

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Check that a calibration and zones with speed limits exist."""
        super().__init__(params, setup)
        assert isinstance(params, SpeedingParams)
        self.p = params
        if setup.transform is None:
            raise ValueError("speeding needs a calibration (scene 'calibration' or a transform)")
        self.transform = setup.transform
        self.zones = [zone for zone in setup.scene.zones if zone.speed_limit is not None]
        if not self.zones:
            raise ValueError("speeding needs at least one zone with a speed_limit")
        calibration = setup.scene.calibration
        scene_error = calibration.error_m if calibration is not None else 0.5
        self.error_m = params.error_m if params.error_m is not None else scene_error
        self.view = shared_view_motion(setup.services, params.window_s)

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """Estimate the speed and compare with the zone's limit for the track's class."""
        zone = next((z for z in self.zones if self.anchor_in(frame, z.polygon, row)), None)
        if zone is None or zone.speed_limit is None:
            return Verdict(condition=False)
        track = frame.tracks[int(tracked.tracker_id[row])]
        bottom_px: float | None = None
        if frame.image is not None:
            height, width = frame.image.shape[:2]
            if box_at_frame_edge(tracked.xyxy[row], (width, height), self.p.edge_margin_px):
                return Verdict(condition=False, zone=zone.name)
            bottom_px = height - self.p.edge_margin_px
        if self._scales(frame, tracked)[row] > self.p.max_metres_per_px:
            return Verdict(condition=False, zone=zone.name)
        if frame.image is not None and self.view.moved_px > self.p.max_view_shift_px:
            return Verdict(condition=False, zone=zone.name)  # the view moves: no true speed
        estimate = shared_world_speed(
            frame,
            track,
            self.transform,
            self.p.window_s,
            self.error_m,
            jumps=ROAD_JUMPS if self.p.reject_jumps else None,
            min_span_s=self.p.min_span_s,
            bottom_px=bottom_px,
        )
        if estimate is None:
            return Verdict(condition=False, zone=zone.name)
        speed = estimate.speed * MPS_TO_KMH
        sigma = estimate.uncertainty * MPS_TO_KMH
        class_name = frame.class_name(track.class_id)
        limit = zone.speed_limit.for_class(RIDER_CLASS.get(class_name, class_name))
        judged = speed - sigma if self.p.use_uncertainty else speed
        over = judged > limit + self.p.tolerance_kmh and speed <= self.p.max_plausible_kmh
        return Verdict(
            condition=over,
            zone=zone.name,
            measurements={
                "speed_kmh": round(speed, 2),
                "speed_uncertainty_kmh": round(sigma, 2),
                "limit_kmh": limit,
            },
            severity=Severity.HIGH if speed > limit + 20 else None,
        )

    def _scales(self, frame: FrameContext, tracked: Detections) -> list[float]:
        """Metres of road per pixel at each row's anchor of ``tracked``, once per frame."""
        key = ("metres_per_px", self.scope, id(self.transform))
        return frame.cached(key, lambda: metres_per_px(self.transform, tracked.bottom_center))


def metres_per_px(
    transform: WorldTransform, anchors: npt.NDArray[np.float32] | npt.NDArray[np.float64]
) -> list[float]:
    """Road metres of one pixel at each anchor ``(N, 2)``: the larger of a row and a column step.

    One transform call for every anchor and its two neighbours.
    """
    count = len(anchors)
    if count == 0:
        return []
    points = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    right, down = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    steps = np.concatenate([points, points + right, points + down])
    world = np.asarray(transform.image_to_world(steps), dtype=np.float64)
    across = np.hypot(*(world[count : 2 * count] - world[:count]).T)
    along = np.hypot(*(world[2 * count :] - world[:count]).T)
    scale: list[float] = np.maximum(across, along).tolist()
    return scale
