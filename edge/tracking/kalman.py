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

_IDENTITY = np.eye(8)
_VELOCITY_TERMS = (np.arange(4), np.arange(4, 8))
"""Where the time step goes in the transition matrix (position += dt × velocity)."""


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
    """Kalman state of one track: mean ``[cx, cy, w, h, vcx, vcy, vw, vh]`` (pixels, px/s)."""

    def __init__(self, box_cxcywh: Vector, noise: KalmanNoise) -> None:
        """Start from a first measurement with zero velocity and a wide velocity variance."""
        self.noise = noise
        self.mean: Vector = np.concatenate([box_cxcywh.astype(np.float64), np.zeros(4)])
        h = max(float(box_cxcywh[3]), 1.0)
        pos_std = 2.0 * noise.measurement * h
        vel_std = 10.0 * noise.velocity * h / noise.reference_dt
        self.covariance: Matrix = np.diag(
            np.square([pos_std, pos_std, pos_std, pos_std, vel_std, vel_std, vel_std, vel_std])
        )

    def predict(self, dt: float) -> Vector:
        """Advance the state by ``dt`` seconds and return the predicted box ``(cx, cy, w, h)``."""
        if dt <= 0:
            return self.mean[:4].copy()
        transition = _IDENTITY.copy()
        transition[_VELOCITY_TERMS] = dt
        steps = dt / self.noise.reference_dt
        h = max(float(self.mean[3]), 1.0)
        pos = self.noise.position * h
        vel = self.noise.velocity * h / self.noise.reference_dt
        variances = np.array([pos * pos] * 4 + [vel * vel] * 4) * steps
        process = np.diag(variances)
        self.mean = transition @ self.mean
        self.mean[2:4] = np.maximum(self.mean[2:4], 1.0)
        self.covariance = transition @ self.covariance @ transition.T + process
        return self.mean[:4].copy()

    @staticmethod
    def predict_many(filters: Sequence[BoxKalman], dts: Sequence[float]) -> Matrix:
        """:meth:`predict` of many filters at once; returns their boxes ``(N, 4)``.

        One stacked computation instead of a dozen small matrix products per track: the
        per-frame cost of tracking a busy junction is mostly numpy call overhead. The result
        equals calling :meth:`predict` on each filter, up to floating-point rounding.
        """
        if not filters:
            return np.empty((0, 4))
        step = np.asarray(dts, dtype=np.float64)
        means = np.stack([f.mean for f in filters])
        moving = np.flatnonzero(step > 0)
        if len(moving):
            moved = [filters[int(i)] for i in moving]
            means[moving] = _predict_stacked(moved, means[moving], step[moving])
        return np.asarray(means[:, :4], dtype=np.float64)

    def update(self, box_cxcywh: Vector) -> None:
        """Correct the state with a measured box ``(cx, cy, w, h)``."""
        h = max(float(box_cxcywh[3]), 1.0)
        std = self.noise.measurement * h
        # The measurement matrix picks the first four state entries: its products are slices.
        covariance = self.covariance
        innovation_cov = covariance[:4, :4] + np.diag(np.full(4, std * std))
        gain = np.asarray(np.linalg.solve(innovation_cov, covariance[:, :4].T).T, dtype=np.float64)
        residual = box_cxcywh.astype(np.float64) - self.mean[:4]
        self.mean = np.asarray(self.mean + gain @ residual, dtype=np.float64)
        gain_measure = np.zeros((8, 8))
        gain_measure[:, :4] = gain
        self.covariance = (_IDENTITY - gain_measure) @ covariance

    @staticmethod
    def update_many(filters: Sequence[BoxKalman], boxes_cxcywh: Matrix) -> None:
        """:meth:`update` of many filters at once, each with its measured box (rows).

        As :meth:`predict_many`: one stacked computation for the dozen tracks matched in a
        busy frame. Equal to calling :meth:`update` on each, up to floating-point rounding.
        """
        if not filters:
            return
        measured = np.asarray(boxes_cxcywh, dtype=np.float64).reshape(len(filters), 4)
        std = np.array([f.noise.measurement for f in filters]) * np.maximum(measured[:, 3], 1.0)
        covariances = np.stack([f.covariance for f in filters])
        innovation = covariances[:, :4, :4].copy()
        diagonal = np.arange(4)
        innovation[:, diagonal, diagonal] += (std * std)[:, None]
        gains = np.linalg.solve(innovation, covariances[:, :4, :]).transpose(0, 2, 1)
        means = np.stack([f.mean for f in filters])
        means += np.einsum("nij,nj->ni", gains, measured - means[:, :4])
        covariances -= gains @ covariances[:, :4, :]  # (I - K H) P, H picking four entries
        for row, kalman in enumerate(filters):
            kalman.mean = means[row]
            kalman.covariance = covariances[row]

    @property
    def velocity(self) -> Vector:
        """Estimated velocity of the box centre in pixels per second."""
        return self.mean[4:6].copy()


def _predict_stacked(filters: Sequence[BoxKalman], means: Matrix, dt: Vector) -> Matrix:
    """Advance each filter (its stacked ``means``) by its ``dt`` (seconds, all > 0) in place.

    Returns:
        The new means, one row per filter.
    """
    noise = np.array([(f.noise.position, f.noise.velocity, f.noise.reference_dt) for f in filters])
    position, velocity, reference_dt = noise.T
    transitions = np.broadcast_to(_IDENTITY, (len(filters), 8, 8)).copy()
    transitions[:, _VELOCITY_TERMS[0], _VELOCITY_TERMS[1]] = dt[:, None]
    heights = np.maximum(means[:, 3], 1.0)  # before the step, as predict()
    means = np.einsum("nij,nj->ni", transitions, means)
    pos = position * heights
    vel = velocity * heights / reference_dt
    variances = np.repeat(np.stack([pos * pos, vel * vel], axis=1), 4, axis=1)
    variances *= (dt / reference_dt)[:, None]
    covariances = np.stack([f.covariance for f in filters])
    covariances = transitions @ covariances @ transitions.transpose(0, 2, 1)
    diagonal = np.arange(8)
    covariances[:, diagonal, diagonal] += variances
    means[:, 2:4] = np.maximum(means[:, 2:4], 1.0)
    for row, kalman in enumerate(filters):
        kalman.mean = means[row]
        kalman.covariance = covariances[row]
    return np.asarray(means, dtype=np.float64)


def xyxy_to_cxcywh(xyxy: npt.NDArray[Any]) -> Vector:
    """Convert one box ``[x1, y1, x2, y2]`` to ``[cx, cy, w, h]``."""
    x1, y1, x2, y2 = np.asarray(xyxy, dtype=np.float64).tolist()
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dtype=np.float64)


def cxcywh_to_xyxy(box: npt.NDArray[Any]) -> Vector:
    """Convert one box ``[cx, cy, w, h]`` to ``[x1, y1, x2, y2]``."""
    cx, cy, w, h = np.asarray(box, dtype=np.float64).tolist()
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float64)
