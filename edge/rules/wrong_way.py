"""Wrong-way driving: sustained motion against a lane's allowed direction."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import Field

from edge.detections import Detections
from edge.rules.base import FrameContext, RuleParams, RuleSetup
from edge.rules.incidents import IncidentParams, TrackIncidentRule, Verdict
from edge.rules.kinematics import recent_points
from edge.rules.view_motion import shared_view_motion
from edge.scene import Lane
from edge.scene.geometry import as_points, unit
from edge.tracking import Track
from traffic_monitor.contract import EventType, Severity


class WrongWayParams(IncidentParams):
    """Parameters of the wrong-way rule."""

    on_s: float = Field(
        default=1.0, ge=0, description="Seconds of motion against the lane before the event."
    )
    lanes: list[str] | None = Field(default=None, description="Lane names; empty: every lane.")
    window_s: float = Field(
        default=1.0,
        gt=0,
        description="Motion is measured over this window; longer ignores jitter, reacts later.",
    )
    min_move_fraction: float = Field(
        default=0.5,
        gt=0,
        description="Only a displacement above this × box height counts as motion (jitter).",
    )
    max_gap_s: float = Field(
        default=0.4,
        gt=0,
        description=(
            "Motion is judged only when the track was seen without a gap longer than this in "
            "the window: a track re-found after a gap is often another road user."
        ),
    )
    max_step_fraction: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description=(
            "Motion made mostly of one step between two sightings (more than this fraction "
            "of the displacement) is an identity hop between road users, not driving."
        ),
    )
    max_view_shift_px: float = Field(
        default=3.0,
        ge=0,
        description="No judgement while the camera's view moved more than this many frame "
        "pixels over the window (a pan or tilt moves every box the same way, standing traffic "
        "included). Needs the frame image.",
    )
    max_cos: float = Field(
        default=-0.5,
        ge=-1,
        le=0,
        description=(
            "Motion counts as against the lane when cos(angle to the allowed direction) is "
            "below this: -0.5 means more than 120° off, so turns are not flagged."
        ),
    )


class WrongWayRule(TrackIncidentRule):
    """``wrong_way`` when a vehicle in a lane keeps moving against its allowed direction."""

    name = "wrong_way"
    Params = WrongWayParams
    event_type = EventType.WRONG_WAY
    severity = Severity.HIGH
    default_classes = ("car", "bus", "truck", "motorcycle", "bicycle")

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Resolve lanes."""
        super().__init__(params, setup)
        assert isinstance(params, WrongWayParams)
        self.p = params
        lanes = setup.scene.lanes
        if params.lanes is not None:
            known = {lane.name for lane in lanes}
            missing = [name for name in params.lanes if name not in known]
            if missing:
                raise ValueError(f"unknown lane(s) {', '.join(missing)}")
            lanes = [lane for lane in lanes if lane.name in params.lanes]
        self.lanes: list[tuple[Lane, np.ndarray]] = [  # type: ignore[type-arg]
            (lane, unit(as_points(lane.direction[1])[0] - as_points(lane.direction[0])[0]))
            for lane in lanes
        ]
        self.view = shared_view_motion(setup.services, params.window_s)

    def evaluate(self, frame: FrameContext, tracked: Detections, row: int) -> Verdict:
        """In a lane, moving clearly and against its direction over the window."""
        track = frame.tracks[int(tracked.tracker_id[row])]
        for lane, direction in self.lanes:
            if lane.classes is not None and frame.class_name(track.class_id) not in lane.classes:
                continue
            if not self.anchor_in(frame, lane.polygon, row):
                continue
            if frame.image is not None and self.view.moved_px > self.p.max_view_shift_px:
                return Verdict(condition=False, zone=lane.name)  # the view itself moves
            move = self._steady_motion(track)
            height = float(tracked.xyxy[row, 3] - tracked.xyxy[row, 1]) or 1.0
            distance = float(np.hypot(*move)) if move is not None else 0.0
            if move is None or distance < self.p.min_move_fraction * height:
                return Verdict(condition=False, zone=lane.name)
            cos = float(move @ direction) / distance
            return Verdict(
                condition=cos < self.p.max_cos,
                zone=lane.name,
                measurements={"cos_to_lane": round(cos, 3)},
                attributes={"lane": lane.name},
            )
        return Verdict(condition=False)

    def _steady_motion(self, track: Track) -> npt.NDArray[np.float64] | None:
        """The anchor's displacement over the window, or None when it is not steady motion.

        Seen on the overpass clip at 960: a track lost for 0.7 s and re-found on a rider two
        boxes away, after hopping from a queued car to a rider, "moved" against its lane by
        those two jumps alone. Driving is many small steps with no long gap.
        """
        times, xy = recent_points(track, self.p.window_s)
        if len(xy) < 3 or float(np.max(np.diff(times))) > self.p.max_gap_s:
            return None
        move: npt.NDArray[np.float64] = xy[-1] - xy[0]
        largest_step = float(np.max(np.hypot(*np.diff(xy, axis=0).T)))
        if largest_step > self.p.max_step_fraction * float(np.hypot(*move)):
            return None
        return move
