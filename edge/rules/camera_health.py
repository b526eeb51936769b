"""Camera health from cheap image statistics: dark, blurred, blocked view, sudden view change."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from edge.rules.base import FrameContext, Rule, RuleParams, RuleSetup, make_event, register_rule
from edge.rules.lifecycle import Lifecycle
from traffic_monitor.contract import Event, EventType, Severity

logger = logging.getLogger(__name__)

CONDITIONS = ("dark", "blurred", "blocked", "view_changed")
_THUMB = (160, 120)


class CameraHealthParams(RuleParams):
    """Thresholds on a 160×120 grey thumbnail of the frame."""

    every_n_frames: int = Field(default=5, ge=1, description="Check one frame in N (CPU).")
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
            "Correlation of the edge map with the reference below this is 'view_changed' "
            "(camera knocked or turned). Lower tolerates more scene change (traffic, light)."
        ),
    )
    reference_alpha: float = Field(
        default=0.02,
        gt=0,
        le=1,
        description="How fast the reference view follows a healthy scene (daylight changes).",
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


def frame_stats(
    image: np.ndarray[Any, Any], reference: np.ndarray[Any, Any] | None
) -> tuple[HealthStats, np.ndarray[Any, Any]]:
    """Compute the statistics of a BGR frame and its edge map (for the view reference)."""
    grey = cv2.cvtColor(cv2.resize(image, _THUMB, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F)
    edges = cv2.GaussianBlur(np.abs(laplacian), (5, 5), 0)
    corr = None
    if reference is not None:
        a = edges - edges.mean()
        b = reference - reference.mean()
        denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
        corr = float((a * b).sum() / denom) if denom > 0 else 0.0
    stats = HealthStats(float(grey.mean()), float(grey.std()), float(laplacian.var()), corr)
    return stats, edges


@register_rule
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

    def process(self, frame: FrameContext) -> list[Event]:
        """Check the frame (one in ``every_n_frames``)."""
        if frame.image is None or frame.index % self.p.every_n_frames:
            return []
        stats, edges = frame_stats(frame.image, self.reference)
        self.last_stats = stats
        active = self._active(stats)
        if not active:
            self._learn(edges)
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

    def _learn(self, edges: np.ndarray[Any, Any]) -> None:
        if self.reference is None:
            self.reference = edges
        else:
            self.reference = (
                1 - self.p.reference_alpha
            ) * self.reference + self.p.reference_alpha * edges

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
