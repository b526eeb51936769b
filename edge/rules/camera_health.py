"""Camera health from cheap image statistics: dark, blurred, blocked view, sudden view change.

The view check compares the frame's edge map with a slowly learnt reference of the healthy
view. A camera that sways on its pole, or a hand-held one that drifts by a few pixels, still
shows the same view: the comparison is the best correlation over shifts of up to
``max_shift_fraction`` of the frame (OpenCV's normalised template matching of the centre of
the frame in the reference), so only a larger shift or a different picture is a change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from edge.ingest import FrameRateLimiter
from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event
from edge.rules.lifecycle import Lifecycle
from traffic_monitor.contract import Event, EventType, Severity

logger = logging.getLogger(__name__)

CONDITIONS = ("dark", "blurred", "blocked", "view_changed")
_THUMB = (160, 120)
_EDGE_SIGMA = 2.0
"""Blur of the edge maps compared, thumbnail pixels: a box edge that moved by a pixel or two
(jitter, compression) still overlaps itself."""


class CameraHealthParams(RuleParams):
    """Thresholds on a 160×120 grey thumbnail of the frame."""

    check_interval_s: float = Field(
        default=0.2,
        ge=0,
        description=(
            "Seconds between checked frames (CPU); in media time, so a camera processed at "
            "any rate (max_fps, frames dropped) is checked alike. 0: every frame."
        ),
    )
    dark_mean: float = Field(
        default=35.0, ge=0, le=255, description="Mean brightness below this is 'dark'."
    )
    blur_laplacian: float = Field(
        default=30.0,
        ge=0,
        description="Variance of the Laplacian below this is 'blurred' (defocus, rain, dirt).",
    )
    blocked_std: float = Field(
        default=12.0,
        ge=0,
        description="Brightness std below this is 'blocked' (lens covered, uniform view).",
    )
    view_change_corr: float = Field(
        default=0.5,
        ge=-1,
        le=1,
        description=(
            "Correlation of the edge map with the reference (the best over the shifts "
            "max_shift_fraction allows) below this is 'view_changed' (camera knocked or "
            "turned). Lower tolerates more scene change (traffic, light)."
        ),
    )
    max_shift_fraction: float = Field(
        default=0.08,
        ge=0,
        le=0.25,
        description=(
            "The view may shift by up to this fraction of the frame's width and height and "
            "still be the same view (pole sway, a hand-held camera's drift). Larger tolerates "
            "more movement and notices a camera knocked by a little later."
        ),
    )
    reference_time_s: float = Field(
        default=8.0,
        gt=0,
        description=(
            "Time constant, in seconds, with which the reference view follows a healthy scene "
            "(daylight changes, a PTZ camera's slow drift); the same at any processed rate."
        ),
    )
    on_s: float = Field(default=3.0, ge=0, description="Seconds a condition holds before start.")
    off_s: float = Field(default=3.0, ge=0, description="Seconds it is absent before end.")
    update_interval_s: float = Field(
        default=60.0, gt=0, description="Seconds between update events."
    )


@dataclass
class _Condition:
    since: float | None = None
    clear_since: float | None = None


@dataclass(frozen=True)
class HealthStats:
    """Statistics of one frame."""

    mean: float
    std: float
    laplacian: float
    view_corr: float | None
    view_shift: tuple[float, float] | None = None
    """Shift (x, y) of the view against the reference, in frame pixels."""


def frame_stats(
    image: np.ndarray[Any, Any],
    reference: np.ndarray[Any, Any] | None,
    max_shift_fraction: float = 0.0,
) -> tuple[HealthStats, np.ndarray[Any, Any]]:
    """Compute the statistics of a BGR frame and its edge map (for the view reference).

    Args:
        image: The BGR frame.
        reference: The reference edge map (None: no view comparison).
        max_shift_fraction: Shifts of the view (fraction of width and height) searched for
            the best correlation with the reference.
    """
    grey = cv2.cvtColor(cv2.resize(image, _THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)
    edges = cv2.GaussianBlur(np.abs(laplacian), (0, 0), _EDGE_SIGMA)
    corr = shift = None
    if reference is not None:
        corr, (dx, dy) = view_match(edges, reference, max_shift_fraction)
        scale_x, scale_y = image.shape[1] / _THUMB[0], image.shape[0] / _THUMB[1]
        shift = (dx * scale_x, dy * scale_y)
    stats = HealthStats(float(grey.mean()), float(grey.std()), float(laplacian.var()), corr, shift)
    return stats, edges


def view_match(
    edges: np.ndarray[Any, Any], reference: np.ndarray[Any, Any], max_shift_fraction: float
) -> tuple[float, tuple[int, int]]:
    """Best normalised correlation of ``edges`` with ``reference`` over small shifts.

    The centre of ``edges`` (a margin of ``max_shift_fraction`` cut on every side) is slid
    over ``reference``; returns the best correlation and the shift (x, y) in thumbnail
    pixels where it was found (positive: the picture moved right/down). A flat map correlates 0.
    """
    height, width = edges.shape[:2]
    mx, my = round(max_shift_fraction * width), round(max_shift_fraction * height)
    centre = np.ascontiguousarray(edges[my : height - my, mx : width - mx], dtype=np.float32)
    if float(centre.std()) == 0.0 or float(reference.std()) == 0.0:
        return 0.0, (0, 0)
    scores = cv2.matchTemplate(reference.astype(np.float32), centre, cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    return float(best), (mx - x, my - y)


class CameraHealthRule(Rule):
    """``camera_health`` start/end per condition (dark, blurred, blocked, view_changed)."""

    name = "camera_health"
    Params = CameraHealthParams

    def __init__(self, params: RuleParams, setup: RuleSetup) -> None:
        """Prepare condition timers and the reference view."""
        super().__init__(params, setup)
        assert isinstance(params, CameraHealthParams)
        self.p = params
        self.conditions = {name: _Condition() for name in CONDITIONS}
        self.lifecycle = Lifecycle(params.update_interval_s)
        self.reference: np.ndarray[Any, Any] | None = None
        self.last_stats: HealthStats | None = None
        self._checks = FrameRateLimiter.every(params.check_interval_s)
        self._learnt_at: float | None = None

    def process(self, frame: FrameContext) -> list[Event]:
        """Check the frame if ``check_interval_s`` has passed since the last check."""
        if frame.image is None or not self._checks.keep(frame.timestamp):
            return []
        stats, edges = frame_stats(frame.image, self.reference, self.p.max_shift_fraction)
        self.last_stats = stats
        active = self._active(stats)
        if not active:
            self._learn(edges, frame.timestamp)
        elif "view_changed" in active and len(active) == 1 and self._long_changed(frame.timestamp):
            self.reference = edges  # the new view is the view now: adopt it and clear
        events: list[Event] = []
        for name in CONDITIONS:
            events.extend(self._step(frame, name, name in active, stats))
        return events

    def _active(self, stats: HealthStats) -> set[str]:
        p = self.p
        active = set()
        if stats.mean < p.dark_mean:
            active.add("dark")  # a dark view is also flat: report the cause, not both
        elif stats.std < p.blocked_std:
            active.add("blocked")
        elif stats.laplacian < p.blur_laplacian:
            active.add("blurred")
        if stats.view_corr is not None and stats.view_corr < p.view_change_corr and not active:
            active.add("view_changed")
        return active

    def _learn(self, edges: np.ndarray[Any, Any], now: float) -> None:
        """Blend ``edges`` into the reference, weighted by the time since the last blend.

        An exponential average with time constant ``reference_time_s`` in media time.
        """
        if self.reference is None or self._learnt_at is None:
            self.reference = edges
        else:
            elapsed = max(now - self._learnt_at, 0.0)
            weight = 1.0 - float(np.exp(-elapsed / self.p.reference_time_s))
            self.reference = (1 - weight) * self.reference + weight * edges
        self._learnt_at = now

    def _long_changed(self, now: float) -> bool:
        condition = self.conditions["view_changed"]
        return (
            "view_changed" in self.lifecycle
            and condition.since is not None
            and now - condition.since > 10 * max(self.p.on_s, 1.0)
        )

    def _step(self, frame: FrameContext, name: str, on: bool, stats: HealthStats) -> list[Event]:
        now = frame.timestamp
        condition = self.conditions[name]
        if on:
            condition.clear_since = None
            condition.since = now if condition.since is None else condition.since
        elif condition.since is not None:
            condition.clear_since = now if condition.clear_since is None else condition.clear_since
        event = self._event(frame, name, stats)
        if (
            on
            and name not in self.lifecycle
            and condition.since is not None
            and now - condition.since >= self.p.on_s
        ):
            logger.warning("camera %s: %s", frame.camera_id, name)
            return [self.lifecycle.start(name, now, event)]
        if (
            name in self.lifecycle
            and condition.clear_since is not None
            and now - condition.clear_since >= self.p.off_s
        ):
            condition.since = condition.clear_since = None
            return [self.lifecycle.end(name, now, event)]
        if not on and name not in self.lifecycle and condition.clear_since is not None:
            condition.since = condition.clear_since = None
        if name in self.lifecycle:
            update = self.lifecycle.update(name, now, event)
            return [update] if update is not None else []
        return []

    def _event(self, frame: FrameContext, name: str, stats: HealthStats) -> Event:
        measurements = {
            "brightness": round(stats.mean, 2),
            "contrast": round(stats.std, 2),
            "sharpness": round(stats.laplacian, 2),
        }
        if stats.view_corr is not None:
            measurements["view_correlation"] = round(stats.view_corr, 3)
        if stats.view_shift is not None:
            measurements["view_shift_x_px"] = round(stats.view_shift[0], 1)
            measurements["view_shift_y_px"] = round(stats.view_shift[1], 1)
        return make_event(
            frame,
            self.name,
            EventType.CAMERA_HEALTH,
            severity=Severity.HIGH if name in ("blocked", "view_changed") else Severity.MEDIUM,
            measurements=measurements,
            attributes={"condition": name},
        )

    def finish(self, frame: FrameContext) -> list[Event]:
        """End open conditions."""
        if self.last_stats is None:
            return []
        return [
            self.lifecycle.end(name, frame.timestamp, self._event(frame, name, self.last_stats))
            for name in CONDITIONS
            if name in self.lifecycle
        ]
