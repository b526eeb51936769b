"""Track motion measured once per frame and shared by the rules that ask the same question.

Speeding, congestion and line crossing each want a track's road-plane speed, and the robust
fit behind it (:func:`edge.rules.kinematics.world_speed`) is the costliest step of the rules.
The estimate only depends on the track's history (which does not change while the rules run)
and the fit's settings, so within one frame a second request with the same settings gets
the first answer.
"""

from __future__ import annotations

from edge.rules.base import FrameContext, WorldTransform
from edge.rules.kinematics import (
    RIGID_VEHICLE,
    ROAD_JUMPS,
    JumpFilter,
    RigidCheck,
    SpeedEstimate,
    world_speed,
)
from edge.tracking import Track


def shared_world_speed(
    frame: FrameContext,
    track: Track,
    transform: WorldTransform,
    window_s: float,
    error_m: float,
    *,
    jumps: JumpFilter | None = ROAD_JUMPS,
    min_span_s: float = 0.0,
    bottom_px: float | None = None,
    rigid: RigidCheck | None = RIGID_VEHICLE,
) -> SpeedEstimate | None:
    """:func:`~edge.rules.kinematics.world_speed` of ``track``, computed once per frame.

    Args:
        frame: The frame being processed (holds the shared results).
        track: One of ``frame.tracks``.
        transform: Pixels to road metres.
        window_s: Seconds of history fitted.
        error_m: Calibration position error, metres.
        jumps: Jump filter (see ``world_speed``); None fits every anchor.
        min_span_s: No estimate from kept anchors spanning less than this.
        bottom_px: Row below which anchors are left out (None: keep all).
        rigid: Box-height check of the anchors (see ``world_speed``); None: no check.

    Returns:
        The same estimate ``world_speed`` returns for these arguments.
    """
    key = (
        "world_speed",
        track.track_id,
        id(transform),
        window_s,
        error_m,
        jumps,
        min_span_s,
        bottom_px,
        rigid,
    )
    return frame.cached(
        key,
        lambda: world_speed(
            track,
            transform,
            window_s,
            error_m,
            jumps=jumps,
            min_span_s=min_span_s,
            bottom_px=bottom_px,
            rigid=rigid,
        ),
    )
