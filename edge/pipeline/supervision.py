"""Supervision of the cameras of one box: each camera a unit that fails alone.

A :class:`CameraUnit` is one camera's capture and analytics. Whatever part of it fails (its
capture thread dies, its tracker or a rule raises, its evidence cannot be encoded, its
detector stalls, the sink refuses its events), the failure is logged, counted in
``edge_errors_total{camera,stage}``, reported as a ``camera_status`` event, and the camera
is marked degraded; the other cameras never notice. Parts are restarted with exponential
back-off, and failures are counted in a sliding window (as Frigate's watchdog does): one
failure too many within ``restart_window_s`` and the part is given up. A rule or the
evidence stage is then switched off on that camera (the rest goes on, degraded); a capture,
analytics or detector is the camera itself, which is then marked failed. A box whose
cameras have all failed ends its run, and ``edge run`` exits non-zero (so the service
manager restarts the process, the last resort).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from edge.detections import Detections
from edge.ingest import Frame
from edge.pipeline.analytics import EVIDENCE_STAGE, RULE_STAGE_PREFIX, CameraAnalytics
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.sink import OutgoingEvent
from edge.scene import SceneConfig
from traffic_monitor.contract import Event, EventType, Severity

logger = logging.getLogger(__name__)

SUPERVISOR_RULE = "supervisor"
"""The ``rule`` of the ``camera_status`` events the supervisor raises."""
MAX_REASON_CHARS = 200


class SupervisionConfig(BaseModel):
    """How failed parts of a camera are restarted, and when they are given up."""

    model_config = ConfigDict(extra="forbid")

    max_restarts: int = Field(
        default=5,
        ge=0,
        description="Failures of one part of a camera (capture, analytics, detector, one rule, "
        "evidence) allowed within restart_window_s; one more and the part is given up (a "
        "rule or the evidence is switched off on that camera; otherwise the camera fails). "
        "Higher rides out longer trouble; lower gives up on a crash loop sooner.",
    )
    restart_window_s: float = Field(
        default=600.0,
        gt=0,
        description="Window the failures are counted in; a camera whose parts have not failed "
        "for this long is healthy again.",
    )
    backoff_initial_s: float = Field(
        default=1.0, gt=0, description="Wait before the first restart of a failed part."
    )
    backoff_max_s: float = Field(
        default=60.0, gt=0, description="Longest wait between restarts (it doubles up to it)."
    )
    detector_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A detector call that takes longer is declared stuck: its frames are "
        "dropped and the detector is rebuilt. Keep it well above the slowest normal call, "
        "the first one included; the other cameras wait this long once per stall.",
    )
    overload_window_s: float = Field(
        default=30.0,
        gt=0,
        description="Window over which a camera's dropped frames are judged: a box that "
        "cannot process a camera's source.max_fps drops frames from the capture queue, and "
        "its counts and speeds then come from a rate that was never measured.",
    )
    overload_drop_share: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Share of the frames the capture kept (after source.max_fps) that the "
        "queue dropped over overload_window_s for the camera to be marked degraded "
        "(overloaded, a camera_status event); it is online again once the share falls "
        "below half of this over a window.",
    )


class RestartBudget:
    """Failures of one part within a sliding window, and the back-off before its restart."""

    def __init__(self, policy: SupervisionConfig) -> None:
        """Start with no failure."""
        self.policy = policy
        self._times: deque[float] = deque()

    def record(self, now: float) -> float | None:
        """Count a failure at ``now`` (monotonic seconds).

        Returns:
            Seconds to wait before the restart, or None when the part is to be given up.
        """
        self._prune(now)
        self._times.append(now)
        if len(self._times) > self.policy.max_restarts:
            return None
        delay = self.policy.backoff_initial_s * 2 ** (len(self._times) - 1)
        return float(min(delay, self.policy.backoff_max_s))

    def recent(self, now: float) -> int:
        """Failures within the window."""
        self._prune(now)
        return len(self._times)

    def _prune(self, now: float) -> None:
        while self._times and now - self._times[0] > self.policy.restart_window_s:
            self._times.popleft()


OVERLOAD = "overload"
"""The ``stage`` of a camera that drops frames because the box cannot keep its rate."""


class OverloadWatch:
    """Whether a camera's capture queue drops too many frames over a sliding window.

    Samples the capture's counters at most once a second, so it holds at most about
    ``window_s`` samples.
    """

    def __init__(self, window_s: float, drop_share: float, max_fps: float | None) -> None:
        """Start with no sample and not overloaded."""
        self.window_s = window_s
        self.drop_share = drop_share
        self.max_fps = max_fps
        self.reason: str | None = None
        self.measured: dict[str, float] = {}
        """While overloaded: ``processed_fps``, ``dropped_share`` and ``max_fps`` (if set)."""
        self._samples: deque[tuple[float, int, int]] = deque()

    def update(self, now: float, read: int, dropped: int) -> bool:
        """Add a sample of the counters (monotonic seconds); True when the verdict changed."""
        if self._samples and (read < self._samples[-1][1] or dropped < self._samples[-1][2]):
            self._samples.clear()  # a restarted capture counts from zero
        if self._samples and now - self._samples[-1][0] < 1.0:
            return False
        self._samples.append((now, read, dropped))
        while len(self._samples) > 1 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()
        start, read_then, dropped_then = self._samples[0]
        span, kept, lost = now - start, read - read_then, dropped - dropped_then
        if span < self.window_s or kept <= 0:
            return False
        share = lost / kept
        if self.reason is None and share >= self.drop_share:
            processed = (kept - lost) / span
            self.reason = self._describe(lost, kept, span, processed)
            self.measured = {"processed_fps": round(processed, 2), "dropped_share": round(share, 3)}
            if self.max_fps:
                self.measured["max_fps"] = self.max_fps
            return True
        if self.reason is not None and share < self.drop_share / 2:
            self.reason, self.measured = None, {}
            return True
        return False

    def _describe(self, lost: int, kept: int, span: float, processed: float) -> str:
        wanted = f" of the {self.max_fps:g} fps of source.max_fps" if self.max_fps else ""
        return (
            f"{OVERLOAD}: {lost} of {kept} frames dropped in {span:.0f} s, {processed:.1f} fps "
            f"processed{wanted} (lower detector.imgsz or source.max_fps, or fewer cameras)"
        )


class CameraState(StrEnum):
    """What a camera is doing, as ``camera_status`` events and ``edge_camera_state`` say."""

    STARTING = "starting"
    ONLINE = "online"
    OFFLINE = "offline"
    DEGRADED = "degraded"
    FAILED = "failed"
    FINISHED = "finished"


_SEVERITY = {
    CameraState.STARTING: Severity.INFO,
    CameraState.ONLINE: Severity.INFO,
    CameraState.FINISHED: Severity.INFO,
    CameraState.DEGRADED: Severity.MEDIUM,
    CameraState.OFFLINE: Severity.HIGH,
    CameraState.FAILED: Severity.CRITICAL,
}


class SupervisedSource(Protocol):
    """What a unit needs of a frame source (``edge.ingest.CaptureWorker`` fits).

    A source without ``online``, ``error``, ``crashed``, ``live`` or ``restarted`` is read
    as a file that never fails.
    """

    def start(self) -> None:
        """Start delivering frames."""
        ...

    def get(self, timeout: float | None = None) -> Frame | None:
        """Next frame, or None after ``timeout``."""
        ...

    @property
    def finished(self) -> bool:
        """True once the source has ended and every frame was taken."""
        ...

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join."""
        ...


def status_event(
    scene: SceneConfig,
    state: CameraState,
    reason: str,
    node_id: str = "default",
    measurements: Mapping[str, float] | None = None,
    **attributes: str | int | float,
) -> Event:
    """A ``camera_status`` event: the camera's new state and why (wall-clock time).

    ``node_id`` is the edge node's (the camera's site comes from its scene);
    ``measurements`` the figures of an overloaded camera (``CameraStatusMeasurements``).
    """
    return Event.of(
        camera_id=scene.camera.id,
        site_id=scene.camera.site,
        node_id=node_id,
        time=datetime.now(UTC),
        type=EventType.CAMERA_STATUS,
        rule=SUPERVISOR_RULE,
        severity=_SEVERITY[state],
        measurements=dict(measurements or {}),
        attributes={"status": state.value, "reason": reason[:MAX_REASON_CHARS], **attributes},
    )


def describe(error: BaseException) -> str:
    """One line naming an exception: ``ValueError: message``."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class CameraUnit:
    """One camera's capture and analytics, restarted part by part when they fail.

    Threads: the detect loop calls :meth:`start`, :meth:`take`, :meth:`supervise`,
    :meth:`fault` (detector and sink failures) and :meth:`stop`; the analysis thread calls
    :meth:`analyse`. :meth:`finish` runs after the analysis thread has ended.
    """

    def __init__(
        self,
        scene: SceneConfig,
        source: SupervisedSource,
        make_analytics: Callable[[], CameraAnalytics],
        *,
        policy: SupervisionConfig,
        metrics: PipelineMetrics,
        notify: Callable[[Event], None],
    ) -> None:
        """Build the camera's analytics; nothing starts until :meth:`start`.

        Args:
            scene: The camera's scene.
            source: Its frames.
            make_analytics: Builds fresh analytics (at start and after a crash).
            policy: Restart and give-up policy.
            metrics: Where failures and states are counted.
            notify: Receives the ``camera_status`` events (from any thread).
        """
        self.scene = scene
        self.camera_id = scene.camera.id
        self.source = source
        self.analytics = make_analytics()
        self.node_id = self.analytics.node_id
        self._make_analytics = make_analytics
        self.policy = policy
        self.metrics = metrics
        self._notify = notify
        self._lock = threading.RLock()
        self._budgets: dict[str, RestartBudget] = {}
        self._degraded: dict[str, str] = {}
        self._disabled: set[str] = set()
        self._state = CameraState.STARTING
        self._up: bool | None = None
        self._delivered = False
        self._paused_until = 0.0
        self._capture_restart_at: float | None = None
        self._source_stopped = False
        self._finished_analytics: CameraAnalytics | None = None
        self._overload = OverloadWatch(
            policy.overload_window_s, policy.overload_drop_share, scene.source.max_fps
        )

    # -- state --------------------------------------------------------------------------

    @property
    def state(self) -> CameraState:
        """The camera's current state."""
        return self._state

    @property
    def failed(self) -> bool:
        """True once the camera was given up."""
        return self._state is CameraState.FAILED

    @property
    def done(self) -> bool:
        """True once the camera will deliver no more frames (its file ended, or it failed)."""
        return self._state in (CameraState.FAILED, CameraState.FINISHED)

    def _set_state(
        self,
        state: CameraState,
        reason: str,
        measurements: Mapping[str, float] | None = None,
        **attributes: str | int | float,
    ) -> None:
        """Move to ``state`` (and say so) unless the camera is already there."""
        with self._lock:
            if state is self._state or self._state is CameraState.FAILED:
                return
            self._state = state
        self.metrics.set_camera_state(self.camera_id, state.value)
        log = logger.info if _SEVERITY[state] is Severity.INFO else logger.warning
        log("camera %s %s (%s)", self.camera_id, state.value, reason)
        self._notify(
            status_event(self.scene, state, reason, self.node_id, measurements, **attributes)
        )

    def _settle(self, reason: str) -> None:
        """Back to online, or degraded while a part is switched off or failed recently."""
        if self.done:
            return
        with self._lock:
            degraded = "; ".join(self._degraded.values())
        if self._up is False and self._is_live():
            self._set_state(CameraState.OFFLINE, reason)
        elif degraded:
            self._set_state(CameraState.DEGRADED, degraded)
        elif self._up:
            self._set_state(CameraState.ONLINE, reason)

    # -- the detect loop's side ---------------------------------------------------------

    def start(self) -> None:
        """Start the capture."""
        self.metrics.set_camera_state(self.camera_id, self._state.value)
        self.metrics.camera_up.labels(self.camera_id).set(0)
        self.source.start()

    def take(self, timeout: float) -> Frame | None:
        """The camera's next frame to detect, or None (none yet, restarting, failed, ended).

        Frames that arrive while a part of the camera waits to be restarted are taken from
        the capture and discarded (counted), so a live queue stays fresh.
        """
        if self.done or self._capture_restart_at is not None:
            return None
        frame = self.source.get(timeout=timeout)
        if frame is None:
            return None
        self._delivered = True
        if time.monotonic() < self._paused_until:
            self.metrics.discarded.labels(self.camera_id).inc()
            return None
        return frame

    def supervise(self, now: float) -> None:
        """Watch the capture (ended, died, offline) and clear old failures; cheap, per round."""
        if self.failed:
            self._stop_source()
            return
        if self._state is CameraState.FINISHED:
            return
        self._watch_capture(now)
        self._watch_up()
        self._forget_old_failures(now)
        stats = getattr(self.source, "stats", None)
        dropped = getattr(stats, "frames_dropped", None)
        if isinstance(dropped, int):
            self.metrics.dropped.labels(self.camera_id).set(dropped)
            read = getattr(stats, "frames_read", None)
            if isinstance(read, int):
                self._watch_overload(now, read, dropped)

    def pause(self, seconds: float) -> None:
        """Discard the camera's frames for ``seconds`` (a part of it waits to restart)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def stop(self) -> None:
        """Stop the capture and say the camera is down."""
        self._stop_source()
        self.metrics.camera_up.labels(self.camera_id).set(0)

    def _stop_source(self) -> None:
        if not self._source_stopped:
            self._source_stopped = True
            self.source.stop()

    def _watch_capture(self, now: float) -> None:
        """Restart a capture that died (after its back-off); finish or fail one that ended."""
        if self._capture_restart_at is not None:
            if now >= self._capture_restart_at:
                self._restart_capture()
            return
        if not self.source.finished:
            return
        error: BaseException | None = getattr(self.source, "error", None)
        if error is None:
            self.metrics.camera_up.labels(self.camera_id).set(0)
            self._set_state(CameraState.FINISHED, "end of the video file")
            return
        restartable = getattr(self.source, "crashed", False) and hasattr(self.source, "restarted")
        if not restartable:  # a missing or corrupt file, a camera that never answered
            self.fail("capture", describe(error))
            return
        delay = self.fault("capture", error)
        if delay is None:
            self.fail("capture", f"{describe(error)} (too many restarts)")
            return
        self._capture_restart_at = now + delay

    def _restart_capture(self) -> None:
        restarted: SupervisedSource = self.source.restarted()  # type: ignore[attr-defined]
        self.source.stop()  # its reading thread has ended; a live one's watchdog has not
        self.source = restarted
        self._capture_restart_at = None
        self.metrics.restarts.labels(self.camera_id, "capture").inc()
        logger.info("camera %s: capture restarted", self.camera_id)
        restarted.start()

    def _watch_up(self) -> None:
        """Follow the capture going online/offline (``edge_camera_up`` and status events)."""
        online = getattr(self.source, "online", None)
        up = bool(online) if online is not None else self._delivered and not self.source.finished
        if up == self._up:
            return
        self._up = up
        self.metrics.camera_up.labels(self.camera_id).set(1 if up else 0)
        status = getattr(self.source, "last_status", None)
        reason = getattr(status, "reason", "") or ("frames arriving" if up else "no frames")
        self._settle(reason)

    def _watch_overload(self, now: float, read: int, dropped: int) -> None:
        """Degraded while the capture queue drops frames the box could not process."""
        if not self._overload.update(now, read, dropped):
            return
        reason = self._overload.reason
        if reason is not None:
            self._mark_degraded(OVERLOAD, reason, self._overload.measured)
            return
        with self._lock:
            self._degraded.pop(OVERLOAD, None)
        self._settle(f"keeping up with its frames again for {self._overload.window_s:.0f} s")

    def _is_live(self) -> bool:
        return bool(getattr(self.source, "live", False))

    def _forget_old_failures(self, now: float) -> None:
        """A part that has not failed for a whole window is healthy again."""
        with self._lock:
            healed = [
                stage
                for stage in self._degraded
                if stage != OVERLOAD  # not a failure: _watch_overload clears it
                and stage not in self._disabled
                and self._budget(stage).recent(now) == 0
            ]
            for stage in healed:
                del self._degraded[stage]
        if not healed:
            return
        self._settle(f"no failure of {', '.join(healed)} for {self.policy.restart_window_s:.0f} s")

    # -- failures -----------------------------------------------------------------------

    def fault(
        self,
        stage: str,
        error: BaseException,
        *,
        frame_index: int | None = None,
        log: bool = True,
    ) -> float | None:
        """Record a failure of a part of the camera: log, count, mark degraded, say so.

        Args:
            stage: ``capture``, ``analytics``, ``detector``, ``sink``, ``evidence`` or
                ``rule:<name>``.
            error: What was raised.
            frame_index: The frame it happened on, if any.
            log: False where the caller logs it once for several cameras.

        Returns:
            Seconds to wait before restarting the part, or None when it is to be given up.
        """
        now = time.monotonic()
        with self._lock:  # the two threads both report failures
            budget = self._budget(stage)
            delay = budget.record(now)
            failures = budget.recent(now)
        self.metrics.errors.labels(self.camera_id, stage).inc()
        if log:
            self._log_fault(stage, error, frame_index, failures)
        self._mark_degraded(stage, f"{stage}: {describe(error)}", failures=failures)
        return delay

    def _log_fault(
        self, stage: str, error: BaseException, frame_index: int | None, failures: int
    ) -> None:
        """The first failure of a part with its traceback, repeats in one line each."""
        where = "" if frame_index is None else f" on frame {frame_index}"
        if failures == 1:
            logger.error("camera %s: %s failed%s", self.camera_id, stage, where, exc_info=error)
            return
        logger.warning(
            "camera %s: %s failed again%s (%d in %.0f s): %s",
            self.camera_id,
            stage,
            where,
            failures,
            self.policy.restart_window_s,
            describe(error),
        )

    def _mark_degraded(
        self,
        stage: str,
        reason: str,
        measurements: Mapping[str, float] | None = None,
        **attributes: str | int | float,
    ) -> None:
        with self._lock:
            first = stage not in self._degraded
            self._degraded[stage] = reason
        if self.done:
            return
        if self._state in (CameraState.DEGRADED, CameraState.OFFLINE):
            if first:  # a new part failing is an event of its own; the state stays
                event = status_event(
                    self.scene,
                    CameraState.DEGRADED,
                    reason,
                    self.node_id,
                    measurements,
                    stage=stage,
                    **attributes,
                )
                self._notify(event)
            return
        self._set_state(CameraState.DEGRADED, reason, measurements, stage=stage, **attributes)

    def fail(self, stage: str, reason: str) -> None:
        """Give the camera up: it takes no more frames and its capture is stopped."""
        self.metrics.camera_up.labels(self.camera_id).set(0)
        self._set_state(CameraState.FAILED, f"{stage}: {reason}", stage=stage)

    def _budget(self, stage: str) -> RestartBudget:
        """The stage's failure window (call with the lock held)."""
        if stage not in self._budgets:
            self._budgets[stage] = RestartBudget(self.policy)
        return self._budgets[stage]

    # -- the analysis thread's side -----------------------------------------------------

    def analyse(self, frame: Frame, detections: Detections) -> list[OutgoingEvent]:
        """The frame's events; a failure is handled here and never leaves the camera."""
        if self.failed:
            return []
        try:
            events = self.analytics.process_frame(
                detections,
                index=frame.index,
                timestamp=frame.timestamp,
                wall_time=frame.wall_time,
                image=frame.image,
            )
        except Exception as exc:  # the camera's error boundary: tracker, context, bugs
            return self._analytics_crashed(exc, frame.index)
        self._report_stage_faults()
        return events

    def finish(self) -> list[OutgoingEvent]:
        """End open incidents and flush partial counts (at shutdown, or before a rebuild).

        Once per analytics: a camera whose analytics were given up was finished then.
        """
        if self._finished_analytics is self.analytics:
            return []
        self._finished_analytics = self.analytics
        try:
            events = [OutgoingEvent(event) for event in self.analytics.finish()]
        except Exception as exc:  # finish() guards each rule; this is the rest
            self.fault("analytics", exc)
            return []
        self._report_stage_faults()
        return events

    def _analytics_crashed(self, error: Exception, frame_index: int) -> list[OutgoingEvent]:
        """Rebuild the analytics after a back-off, ending the old one's incidents first."""
        delay = self.fault("analytics", error, frame_index=frame_index)
        salvaged = self.finish()
        if delay is None:
            self.fail("analytics", f"{describe(error)} (too many restarts)")
            return salvaged
        self.analytics = self._make_analytics()
        for stage in self._disabled:  # what was switched off stays off
            self._disable(stage)
        self.metrics.restarts.labels(self.camera_id, "analytics").inc()
        self.pause(delay)
        return salvaged

    def _report_stage_faults(self) -> None:
        """Report the rules and evidence that failed on the last frame; switch off repeaters."""
        for fault in self.analytics.take_faults():
            if fault.stage in self._disabled:
                continue
            if self.fault(fault.stage, fault.error, frame_index=fault.frame_index) is None:
                self._switch_off(fault.stage)

    def _switch_off(self, stage: str) -> None:
        self._disable(stage)
        self._disabled.add(stage)
        reason = f"{stage} switched off after {self.policy.max_restarts + 1} failures"
        with self._lock:
            self._degraded[stage] = reason
        logger.error("camera %s: %s", self.camera_id, reason)
        self._notify(
            status_event(self.scene, CameraState.DEGRADED, reason, self.node_id, stage=stage)
        )

    def _disable(self, stage: str) -> None:
        if stage == EVIDENCE_STAGE:
            self.analytics.disable_evidence()
        else:
            self.analytics.disable_rule(stage.removeprefix(RULE_STAGE_PREFIX))

    def describe_state(self) -> dict[str, Any]:
        """State, degraded parts and switched-off parts (logs, tests)."""
        return {
            "state": self._state.value,
            "degraded": dict(self._degraded),
            "disabled": sorted(self._disabled),
        }
