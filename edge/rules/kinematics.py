"""Motion of a track from its bounded history: displacement, pixel and road-plane speed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge.rules.base import WorldTransform
from edge.tracking import Track

MPS_TO_KMH = 3.6


@dataclass(frozen=True)
class SpeedEstimate:
    """A smoothed speed with its one-sigma uncertainty, in the units of the positions per s."""

    speed: float
    uncertainty: float
    span_s: float
    samples: int


def recent_points(
    track: Track, window_s: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Timestamps ``(N,)`` and anchor points ``(N, 2)`` of the last ``window_s`` seconds."""
    if not track.history:
        return np.empty(0), np.empty((0, 2))
    newest = track.history[-1].timestamp
    points = [p for p in track.history if newest - p.timestamp <= window_s]
    times = np.array([p.timestamp for p in points], dtype=np.float64)
    xy = np.array([[p.x, p.y] for p in points], dtype=np.float64).reshape(-1, 2)
    return times, xy


def displacement(track: Track, window_s: float) -> npt.NDArray[np.float64]:
    """Anchor displacement (pixels) over the last ``window_s`` seconds (zero if too short)."""
    _, xy = recent_points(track, window_s)
    if len(xy) < 2:
        return np.zeros(2)
    result: npt.NDArray[np.float64] = xy[-1] - xy[0]
    return result


def fit_speed(
    times: npt.NDArray[np.float64], xy: npt.NDArray[np.float64], position_error: float
) -> SpeedEstimate | None:
    """Least-squares velocity over a window: robust to jitter, with an uncertainty.

    The uncertainty combines the residual scatter of the fit with ``position_error`` (a
    systematic per-point error such as calibration, in the units of ``xy``) over the span.
    """
    if len(times) < 3:
        return None
    span = float(times[-1] - times[0])
    if span <= 0:
        return None
    t = times - times.mean()
    denom = float(t @ t)
    velocity = (t @ (xy - xy.mean(axis=0))) / denom
    residuals = xy - xy.mean(axis=0) - np.outer(t, velocity)
    dof = max(len(times) - 2, 1)
    sigma2 = float((residuals**2).sum()) / (2 * dof)
    slope_sigma = float(np.sqrt(sigma2 / denom))
    systematic = position_error * np.sqrt(2.0) / span
    speed = float(np.hypot(*velocity))
    return SpeedEstimate(speed, float(np.hypot(slope_sigma, systematic)), span, len(times))


def pixel_speed(track: Track, window_s: float) -> SpeedEstimate | None:
    """Speed of the anchor in pixels per second over the window."""
    times, xy = recent_points(track, window_s)
    return fit_speed(times, xy, 0.0)


def world_speed(
    track: Track, transform: WorldTransform, window_s: float, error_m: float
) -> SpeedEstimate | None:
    """Speed on the road plane in metres per second over the window."""
    times, xy = recent_points(track, window_s)
    if len(times) < 3:
        return None
    world = np.asarray(transform.image_to_world(xy), dtype=np.float64)
    return fit_speed(times, world, error_m)


def is_stationary(track: Track, window_s: float, max_move_fraction: float) -> bool:
    """True when the anchor moved less than ``max_move_fraction`` × box height over the window.

    Scaling by the box height makes one threshold work near and far from the camera.
    """
    times, xy = recent_points(track, window_s)
    if len(times) < 2 or times[-1] - times[0] < 0.5 * window_s:
        return False
    height = float(track.box[3] - track.box[1]) or 1.0
    spread = float(np.max(np.hypot(*(xy - xy.mean(axis=0)).T)))
    return spread <= max_move_fraction * height
