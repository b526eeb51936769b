"""Road-plane trajectories with exact positions and speeds (x across, y along, metres)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Kind = Literal["constant", "accelerating", "lane_change", "stop_and_go"]
KMH = 1.0 / 3.6


@dataclass(frozen=True)
class Trajectory:
    """A vehicle's motion: along-road distance from a speed profile, lateral from a lane plan.

    Attributes:
        kind: Which profile.
        start_s: Time the vehicle appears at ``y0``.
        y0: Along-road start position, metres.
        x0: Lateral start position (lane centre), metres.
        direction: +1 moves away from the camera (y grows), -1 towards it.
        v0_kmh: Initial speed.
        accel: Acceleration (m/s²) for ``accelerating``.
        lane_shift_m: Lateral move for ``lane_change`` (over ``manoeuvre_s`` from ``t1``).
        t1: Start of the manoeuvre (lane change, or braking for stop-and-go), seconds after start.
        manoeuvre_s: Duration of the lane change, or of braking / stop / pulling away.
    """

    kind: Kind
    start_s: float
    y0: float
    x0: float
    direction: float
    v0_kmh: float
    accel: float = 0.0
    lane_shift_m: float = 0.0
    t1: float = 1.0
    manoeuvre_s: float = 2.0

    def _along(self, tau: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Distance travelled and speed (m, m/s) at times ``tau`` after the start."""
        v0 = self.v0_kmh * KMH
        tau = np.maximum(tau, 0.0)
        if self.kind == "accelerating":
            return v0 * tau + 0.5 * self.accel * tau**2, v0 + self.accel * tau
        if self.kind == "stop_and_go":
            return self._stop_and_go(tau, v0)
        return v0 * tau, np.full_like(tau, v0)

    def _stop_and_go(self, tau: FloatArray, v0: float) -> tuple[FloatArray, FloatArray]:
        # cruise until t1, brake to 0 over m, stand for m, pull away to v0 over m
        m = self.manoeuvre_s
        knots_t = np.array([0.0, self.t1, self.t1 + m, self.t1 + 2 * m, self.t1 + 3 * m, 1e6])
        knots_v = np.array([v0, v0, 0.0, 0.0, v0, v0])
        speed = np.interp(tau, knots_t, knots_v)
        segment = np.diff(knots_t) * (knots_v[:-1] + knots_v[1:]) / 2
        cumulative = np.concatenate([[0.0], np.cumsum(segment)])
        index = np.clip(np.searchsorted(knots_t, tau, side="right") - 1, 0, len(knots_t) - 2)
        dt = tau - knots_t[index]
        distance = cumulative[index] + (knots_v[index] + speed) / 2 * dt
        return distance, speed

    def _lateral(self, tau: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self.kind != "lane_change":
            return np.full_like(tau, self.x0), np.zeros_like(tau)
        phase = np.clip((tau - self.t1) / self.manoeuvre_s, 0.0, 1.0)
        x = self.x0 + self.lane_shift_m * (1 - np.cos(np.pi * phase)) / 2
        inside = (phase > 0) & (phase < 1)
        vx = np.where(
            inside,
            self.lane_shift_m * np.pi / (2 * self.manoeuvre_s) * np.sin(np.pi * phase),
            0.0,
        )
        return x, vx

    def state(self, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Positions ``(N, 2)`` metres and speeds ``(N,)`` m/s at scene times ``t``."""
        tau = np.asarray(t, dtype=np.float64) - self.start_s
        along, v_along = self._along(tau)
        x, vx = self._lateral(tau)
        y = self.y0 + self.direction * along
        return np.column_stack([x, y]), np.hypot(v_along, vx)

    def active(self, t: FloatArray) -> npt.NDArray[np.bool_]:
        """True at scene times when the vehicle has started."""
        return np.asarray(np.asarray(t) >= self.start_s)
