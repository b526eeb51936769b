"""Track motion measured once per frame and shared by the rules that ask the same question.

Speeding, congestion and line crossing each want a track's road-plane speed, and the robust
fit behind it (:func:`edge.rules.kinematics.world_speed`) is the costliest step of the rules.
The fit only depends on the track's history (which does not change while the rules run) and
on which anchors are kept (window, jump filter, bottom row, height check), so within one frame
it is computed once for those settings; each rule's calibration error and minimum span are
applied to the shared fit afterwards, which gives exactly what ``world_speed`` gives.
"""

from __future__ import annotations

from edge.rules.base import FrameContext, WorldTransform
from edge.rules.kinematics import (
    RIGID_VEHICLE,
    ROAD_JUMPS,
    JumpFilter,
    RigidCheck,
    SpeedEstimate,
    road_fit,
    with_calibration_error,
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
    key = ("road_fit", track.track_id, id(transform), window_s, jumps, bottom_px, rigid)
    fit = frame.cached(
        key,
        lambda: road_fit(track, transform, window_s, jumps=jumps, bottom_px=bottom_px, rigid=rigid),
    )
    return with_calibration_error(fit, error_m, min_span_s)
