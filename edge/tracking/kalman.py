"""A constant-velocity Kalman filter on boxes ``(cx, cy, w, h)`` with time steps in seconds.

Unlike the per-frame filter of the ByteTrack paper, the transition uses the real time
between two updates, so a detector that skips frames (frame-rate limit, dropped frames)
predicts as far as the object actually moved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

POSITION, VELOCITY, POS_POS, POS_VEL, VEL_VEL = range(5)
"""Rows of a filter's state: per box coordinate ``(cx, cy, w, h)``, its value and velocity,
and the three entries of its 2 × 2 position/velocity covariance."""


@dataclass(frozen=True)
class KalmanNoise:
    """Noise scales relative to the box height (the filter adapts to near and far objects).

    Attributes:
        position: Std of the position process noise per reference step, as a fraction of height.
        velocity: Std of the velocity process noise per reference step, fraction of height.
        measurement: Std of a detector box edge, fraction of height.
        reference_dt: Seconds of one reference step (1/30 s: the noise of a 30 fps camera).
    """

    position: float = 1.0 / 20.0
    velocity: float = 1.0 / 40.0
    measurement: float = 1.0 / 20.0
    reference_dt: float = 1.0 / 30.0


class BoxKalman:
    """Kalman state of one track: mean ``[cx, cy, w, h, vcx, vcy, vw, vh]`` (pixels, px/s).

    The textbook filter on this state has an 8 × 8 covariance, but with a constant-velocity
    transition, diagonal process and measurement noise and a measurement of the four
    positions, a coordinate's position and velocity never correlate with another
    coordinate's: the covariance stays four independent 2 × 2 blocks. The filter keeps just
    those (``state``, rows :data:`POSITION` … :data:`VEL_VEL`), so predicting and correcting
    every track of a frame is a handful of element-wise operations on ``(tracks, 4)``
    arrays instead of stacked 8 × 8 products and solves; the results are the full filter's
    up to rounding (``tests/analytics/test_tracking.py`` compares them).
    """

    def __init__(self, box_cxcywh: Vector, noise: KalmanNoise) -> None:
        """Start from a first measurement with zero velocity and a wide velocity variance."""
        self.noise = noise
        h = max(float(box_cxcywh[3]), 1.0)
        pos_std = 2.0 * noise.measurement * h
        vel_std = 10.0 * noise.velocity * h / noise.reference_dt
        self.state: Matrix = np.zeros((5, 4))
        self.state[POSITION] = box_cxcywh
        self.state[POS_POS] = pos_std * pos_std
        self.state[VEL_VEL] = vel_std * vel_std

    @property
    def mean(self) -> Vector:
        """The state mean ``[cx, cy, w, h, vcx, vcy, vw, vh]`` (a copy)."""
        return np.concatenate([self.state[POSITION], self.state[VELOCITY]])

    @property
    def covariance(self) -> Matrix:
        """The full 8 × 8 covariance of :attr:`mean` (built from the blocks)."""
        full = np.zeros((8, 8))
        index = np.arange(4)
        full[index, index] = self.state[POS_POS]
        full[index, index + 4] = full[index + 4, index] = self.state[POS_VEL]
        full[index + 4, index + 4] = self.state[VEL_VEL]
        return full

    def predict(self, dt: float) -> Vector:
        """Advance the state by ``dt`` seconds and return the predicted box ``(cx, cy, w, h)``."""
        box: Vector = BoxKalman.predict_many([self], [dt])[0]
        return box

    @staticmethod
    def predict_many(filters: Sequence[BoxKalman], dts: Sequence[float]) -> Matrix:
        """:meth:`predict` of many filters at once; returns their boxes ``(N, 4)``.

        A filter with ``dt <= 0`` does not move (its box is returned as it is).
        """
        if not filters:
            return np.empty((0, 4))
        step = np.asarray(dts, dtype=np.float64)
        states = np.stack([f.state for f in filters])
        moving = np.flatnonzero(step > 0)
        if len(moving):
            moved = [filters[int(i)] for i in moving]
            states[moving] = _predict_stacked(moved, states[moving], step[moving])
            for row in moving:
                filters[int(row)].state = states[row]
        return np.array(states[:, POSITION], dtype=np.float64)

    def update(self, box_cxcywh: Vector) -> None:
        """Correct the state with a measured box ``(cx, cy, w, h)``."""
        BoxKalman.update_many([self], np.asarray(box_cxcywh, dtype=np.float64)[None, :])

    @staticmethod
    def update_many(filters: Sequence[BoxKalman], boxes_cxcywh: Matrix) -> None:
        """:meth:`update` of many filters at once, each with its measured box (rows)."""
        if not filters:
            return
        measured = np.asarray(boxes_cxcywh, dtype=np.float64).reshape(len(filters), 4)
        states = np.stack([f.state for f in filters])
        std = np.array([f.noise.measurement for f in filters]) * np.maximum(measured[:, 3], 1.0)
        pos_pos, pos_vel = states[:, POS_POS], states[:, POS_VEL]
        innovation = pos_pos + (std * std)[:, None]
        gain_position, gain_velocity = pos_pos / innovation, pos_vel / innovation
        residual = measured - states[:, POSITION]
        states[:, POSITION] += gain_position * residual
        states[:, VELOCITY] += gain_velocity * residual
        states[:, VEL_VEL] -= gain_velocity * pos_vel  # (I - K H) P, block by block
        states[:, POS_VEL] = pos_vel - gain_position * pos_vel
        states[:, POS_POS] = pos_pos - gain_position * pos_pos
        for row, kalman in enumerate(filters):
            kalman.state = states[row]

    @property
    def velocity(self) -> Vector:
        """Estimated velocity of the box centre in pixels per second."""
        return np.array(self.state[VELOCITY, :2], dtype=np.float64)


def _predict_stacked(filters: Sequence[BoxKalman], states: Matrix, dt: Vector) -> Matrix:
    """Advance each filter's stacked ``states`` by its ``dt`` (seconds, all > 0).

    Returns:
        The new states ``(N, 5, 4)``.
    """
    noise = np.array([(f.noise.position, f.noise.velocity, f.noise.reference_dt) for f in filters])
    position, velocity, reference_dt = noise.T
    heights = np.maximum(states[:, POSITION, 3], 1.0)  # before the step, as the noise scale
    steps = dt / reference_dt
    position_noise = np.square(position * heights) * steps
    velocity_noise = np.square(velocity * heights / reference_dt) * steps
    new = states.copy()
    span = dt[:, None]
    pos_vel, vel_vel = states[:, POS_VEL], states[:, VEL_VEL]
    new[:, POSITION] += span * states[:, VELOCITY]
    new[:, POSITION, 2:] = np.maximum(new[:, POSITION, 2:], 1.0)
    # F P Fᵀ + Q with F = [[1, dt], [0, 1]] per coordinate
    new[:, POS_POS] += span * (2.0 * pos_vel + span * vel_vel) + position_noise[:, None]
    new[:, POS_VEL] += span * vel_vel
    new[:, VEL_VEL] += velocity_noise[:, None]
    return new


def xyxy_to_cxcywh(xyxy: npt.NDArray[Any]) -> Vector:
    """Convert one box ``[x1, y1, x2, y2]`` to ``[cx, cy, w, h]``."""
    x1, y1, x2, y2 = np.asarray(xyxy, dtype=np.float64).tolist()
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dtype=np.float64)


def cxcywh_to_xyxy(box: npt.NDArray[Any]) -> Vector:
    """Convert one box ``[cx, cy, w, h]`` to ``[x1, y1, x2, y2]``."""
    cx, cy, w, h = np.asarray(box, dtype=np.float64).tolist()
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)
