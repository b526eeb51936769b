"""The ``edge run`` process: capture workers → batched detection → per-camera analytics → sink.

Start-up and shutdown read as named steps. By default (``analysis_thread``) two threads share
the frame loop, joined by a bounded queue (:class:`AnalysisWorker`): the detect loop collects
a round of frames and runs the batched network, while the analysis thread tracks, runs the
rules of, and emits the events of the previous round. The network releases the GIL and the
analytics hold it, so the two overlap instead of taking turns; when the analysis falls
behind, the detect loop waits (the capture queues then drop and count frames, nothing
downstream is lost). Rounds are analysed in the order they were detected, so each camera's
tracker sees its frames in order. Without the thread, detection and analysis take turns in
one thread (as fast on a 2-core CPU-only box, where the two contend for the same cores:
``benchmarks.analysis_overlap``). SIGINT/SIGTERM set a stop flag; detected rounds are
analysed, in-flight events flushed and open incidents ended.

Each camera is a supervised unit (:mod:`edge.pipeline.supervision`): a failure of its
capture, analytics, rules, evidence or detector stays with that camera, is reported as a
``camera_status`` event and in metrics, and the part is restarted with back-off. Each
detector group is called under a watchdog (:mod:`edge.pipeline.detection`). The sink has
one error policy (:meth:`Pipeline._emit`): a round the sink refuses is offered again
without its images, then dropped and counted, and the run goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections
from edge.detector import DetectorConfig
from edge.evidence import EvidenceConfig, EvidenceWriter
from edge.ingest import Frame
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.detection import BatchDetector, DetectorGroup, DetectorStalledError
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.sink import EventSink, OutgoingEvent
from edge.pipeline.supervision import (
    CameraUnit,
    RestartBudget,
    SupervisionConfig,
    describe,
)
from edge.rules import ExternalSignalStates
from edge.scene import SceneConfig
from traffic_monitor.contract import Event, EventType, Evidence

logger = logging.getLogger(__name__)

ANALYSIS_QUEUE_ROUNDS = 1
"""Detected rounds that may wait for the analysis thread: one is analysed while the next is
detected; more would only add latency (and memory for their frames)."""
_PUT_POLL_S = 0.1
_GET_TIMEOUT_S = 0.05
_IDLE_WAIT_S = 0.05

__all__ = ["AnalysisWorker", "BatchDetector", "FrameSource", "Pipeline", "Round", "RunStats"]


class FrameSource(Protocol):
    """A camera's frames (``edge.ingest.CaptureWorker`` fits)."""

    def start(self) -> None:
        """Start delivering frames."""
        ...

    def get(self, timeout: float | None = None) -> Frame | None:
        """Next frame, or None after ``timeout``."""
        ...

    @property
    def finished(self) -> bool:
        """True after the end of a file source."""
        ...

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join."""
        ...


@dataclass
class Round:
    """One round of the frame loop.

    The frames collected and their detections, row for row, and the ``camera_status``
    events raised since the last round (emitted first).
    """

    frames: list[Frame]
    detections: list[Detections]
    notices: list[Event] = field(default_factory=list)


class AnalysisWorker:
    """A thread that analyses detected rounds in order, fed through a bounded queue.

    An exception raised by ``analyse`` stops the worker; :meth:`put` then refuses more
    rounds and :meth:`close` re-raises it in the caller's thread.
    """

    def __init__(
        self, analyse: Callable[[Round], None], max_rounds: int = ANALYSIS_QUEUE_ROUNDS
    ) -> None:
        """Start the thread.

        Args:
            analyse: Called with each round, in the order the rounds were put.
            max_rounds: Rounds that may wait while one is analysed.
        """
        self._analyse = analyse
        self._rounds: queue.Queue[Round | None] = queue.Queue(maxsize=max_rounds)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="analysis", daemon=True)
        self._thread.start()

    @property
    def failed(self) -> bool:
        """True once ``analyse`` has raised (the worker has stopped)."""
        return self._error is not None

    def put(self, round_: Round) -> float:
        """Queue a round, waiting while the queue is full; returns the seconds waited.

        Raises:
            RuntimeError: The worker has stopped on an error (see :meth:`close`).
        """
        started = time.perf_counter()
        while True:
            if self._error is not None:
                raise RuntimeError("the analysis thread stopped on an error") from self._error
            try:
                self._rounds.put(round_, timeout=_PUT_POLL_S)
            except queue.Full:
                continue
            return time.perf_counter() - started

    def close(self) -> None:
        """Analyse what is queued, stop the thread and re-raise its error, if any."""
        if self._error is None:
            self._rounds.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        while (round_ := self._rounds.get()) is not None:
            try:
                self._analyse(round_)
            except BaseException as exc:  # handed to the detect loop by put() / close()
                self._error = exc
                self._drain()
                return

    def _drain(self) -> None:
        """Empty the queue so a detect loop blocked in put() wakes up and sees the error."""
        while True:
            try:
                self._rounds.get_nowait()
            except queue.Empty:
                return


@dataclass
class RunStats:
    """What a run did."""

    frames: int = 0
    events: int = 0
    batches: int = 0
    seconds: float = 0.0
    events_dropped: int = 0
    """Events the sink refused even without their images (see the sink-error policy)."""
    failed_cameras: list[str] = field(default_factory=list)
    """Cameras given up by the supervisor."""
    stopped: bool = False
    """True when the run ended on :meth:`Pipeline.stop` (a signal) rather than by itself."""


class Pipeline:
    """Runs several cameras in one process; frames of cameras sharing a detector are batched."""

    def __init__(
        self,
        scenes: Sequence[SceneConfig],
        detector: BatchDetector | Mapping[str, BatchDetector],
        sources: Mapping[str, FrameSource],
        sink: EventSink,
        *,
        metrics: PipelineMetrics | None = None,
        evidence_dir: Path | None = None,
        evidence: EvidenceConfig | None = None,
        external_signals: ExternalSignalStates | None = None,
        analysis_thread: bool = True,
        supervision: SupervisionConfig | None = None,
        detector_factory: Callable[[DetectorConfig], BatchDetector] | None = None,
        stop_event: threading.Event | None = None,
        node_id: str = "default",
    ) -> None:
        """Build one supervised :class:`CameraUnit` per scene; sources are keyed by camera id.

        Args:
            scenes: One validated scene per camera.
            detector: One detector for every camera, or a detector per camera id (cameras
                given the same detector object are detected in one batched call per round;
                see :func:`edge.pipeline.commands.build_detectors`).
            sources: Frame source per camera id.
            sink: Where events go; closed at shutdown.
            metrics: Prometheus metrics (a private registry by default).
            evidence_dir: Folder for evidence JPEGs (shorthand for ``evidence`` with only a
                directory).
            evidence: Evidence settings; none (and no ``evidence_dir``): events carry no
                images. Each scene's ``privacy_blur`` decides its blurring.
            external_signals: Shared table of externally pushed signal states.
            analysis_thread: Analyse each round in a thread of its own while the next is
                detected (:class:`AnalysisWorker`); False: detection and analysis take turns
                in one thread.
            supervision: Restart and give-up policy, detector watchdog (defaults).
            detector_factory: Rebuilds a stuck or broken detector from its camera's
                ``detector`` config; none: the same object is called again.
            stop_event: Set to stop the run (e.g. by a signal handler installed before the
                slow start-up); a fresh one by default. See :meth:`stop`.
            node_id: This edge node's id (``transport.mqtt.node_id``): events carry it.

        Raises:
            ValueError: A camera has no frame source or no detector.
        """
        self.detectors = self._per_camera(scenes, detector)
        missing = {scene.camera.id for scene in scenes} - set(sources)
        if missing:
            raise ValueError(f"no frame source for camera(s) {', '.join(sorted(missing))}")
        self.sink = sink
        self.metrics = metrics or PipelineMetrics()
        self.external_signals = external_signals or ExternalSignalStates()
        self.analysis_thread = analysis_thread
        self.node_id = node_id
        self.policy = supervision or SupervisionConfig()
        self.stop_event = stop_event or threading.Event()
        if evidence_dir is not None:
            evidence = (evidence or EvidenceConfig()).model_copy(update={"directory": evidence_dir})
        self._evidence = evidence
        self._notices: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self.groups = self._groups(scenes, detector_factory)
        self._crops = {
            scene.camera.id: scene.source.crop for scene in scenes if scene.source.crop is not None
        }
        self.units = {
            scene.camera.id: CameraUnit(
                scene,
                sources[scene.camera.id],
                self._analytics_factory(scene),
                policy=self.policy,
                metrics=self.metrics,
                notify=self._notices.put,
            )
            for scene in scenes
        }
        self._group_budgets = {id(group): RestartBudget(self.policy) for group in self.groups}
        self.stats = RunStats()
        self._last_frame_at: dict[str, float] = {}
        self._fps: dict[str, float] = {}
        self._sink_failures = 0

    @property
    def cameras(self) -> dict[str, CameraAnalytics]:
        """The current analytics of each camera (rebuilt after a crash)."""
        return {camera_id: unit.analytics for camera_id, unit in self.units.items()}

    @property
    def sources(self) -> dict[str, FrameSource]:
        """The current frame source of each camera (replaced after a capture restart)."""
        return {camera_id: unit.source for camera_id, unit in self.units.items()}

    @staticmethod
    def _per_camera(
        scenes: Sequence[SceneConfig], detector: BatchDetector | Mapping[str, BatchDetector]
    ) -> dict[str, BatchDetector]:
        if not isinstance(detector, Mapping):
            return {scene.camera.id: detector for scene in scenes}
        missing = [scene.camera.id for scene in scenes if scene.camera.id not in detector]
        if missing:
            raise ValueError(f"no detector for camera(s) {', '.join(sorted(missing))}")
        return dict(detector)

    def _groups(
        self,
        scenes: Sequence[SceneConfig],
        factory: Callable[[DetectorConfig], BatchDetector] | None,
    ) -> list[DetectorGroup]:
        """One watched detector group per distinct detector object."""
        by_detector: dict[int, list[SceneConfig]] = {}
        for scene in scenes:
            by_detector.setdefault(id(self.detectors[scene.camera.id]), []).append(scene)
        groups = []
        for number, members in enumerate(by_detector.values(), start=1):
            config = members[0].detector
            rebuild = None if factory is None else (lambda c=config: factory(c))
            groups.append(
                DetectorGroup(
                    f"group{number}",
                    self.detectors[members[0].camera.id],
                    [scene.camera.id for scene in members],
                    rebuild,
                )
            )
        self._group_of = {camera: group for group in groups for camera in group.cameras}
        return groups

    def _analytics_factory(self, scene: SceneConfig) -> Callable[[], CameraAnalytics]:
        names = self._group_of[scene.camera.id].names

        def build() -> CameraAnalytics:
            evidence = None
            if self._evidence is not None:
                evidence = EvidenceWriter(self._evidence, names, blur=scene.privacy_blur)
            return CameraAnalytics(
                scene,
                names,
                external_signals=self.external_signals,
                evidence=evidence,
                node_id=self.node_id,
            )

        return build

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler)."""
        self.stop_event.set()

    def run(self, max_frames: int | None = None) -> RunStats:
        """Run until every camera has finished or failed, ``stop()`` or ``max_frames`` frames."""
        start = time.perf_counter()
        for unit in self.units.values():
            unit.start()
        analysis = AnalysisWorker(self._analyse_round) if self.analysis_thread else None
        try:
            self._detect_loop(analysis, max_frames)
        finally:
            try:
                if analysis is not None:
                    analysis.close()
            finally:
                self._shutdown()
                self.stats.seconds = time.perf_counter() - start
        return self.stats

    def _detect_loop(self, analysis: AnalysisWorker | None, max_frames: int | None) -> None:
        """Collect and detect rounds, handing each to the analysis thread (if any)."""
        detected = 0
        while not self.stop_event.is_set() and not (analysis is not None and analysis.failed):
            now = time.monotonic()
            for unit in self.units.values():
                unit.supervise(now)
            if all(unit.done for unit in self.units.values()):
                return
            frames = self._collect()
            if not frames:
                self._idle(analysis, now)
                continue
            self._hand_over(analysis, self._detect_round(frames))
            self.stats.batches += 1
            detected += len(frames)
            if max_frames is not None and detected >= max_frames:
                return

    def _idle(self, analysis: AnalysisWorker | None, since: float) -> None:
        """No frame this turn: pass on status events; do not spin when nothing waited."""
        notices = self._take_notices()
        if notices:
            self._hand_over(analysis, Round([], [], notices))
        elif time.monotonic() - since < _IDLE_WAIT_S / 2:
            self.stop_event.wait(_IDLE_WAIT_S)

    def _collect(self) -> list[Frame]:
        started = time.perf_counter()
        frames = []
        for unit in self.units.values():
            frame = unit.take(timeout=_GET_TIMEOUT_S)
            if frame is not None:
                frames.append(frame)
        self.metrics.latency.labels("capture_wait").observe(time.perf_counter() - started)
        return frames

    def _take_notices(self) -> list[Event]:
        notices = []
        while True:
            try:
                notices.append(self._notices.get_nowait())
            except queue.Empty:
                return notices

    def _hand_over(self, analysis: AnalysisWorker | None, round_: Round) -> None:
        """Queue a round for the analysis thread (waiting while it is busy), or analyse it here."""
        round_.notices = self._take_notices() + round_.notices
        if analysis is None:
            self._analyse_round(round_)
            return
        waited = analysis.put(round_)
        if round_.frames:
            self.metrics.latency.labels("analysis_wait").observe(waited)

    # -- detection under the watchdog ------------------------------------------------------

    def _detect_round(self, frames: list[Frame]) -> Round:
        """One batched call per detector group, all at once, under the watchdog's deadline.

        The frames of a group whose call stalled or raised are dropped (counted) and the
        group is restarted; the other groups' frames go on.
        """
        started = time.perf_counter()
        members: dict[int, list[int]] = {}
        for position, frame in enumerate(frames):
            members.setdefault(id(self._group_of[frame.camera_id]), []).append(position)
        calls = [
            (group, positions, group.submit([self._detector_input(frames[p]) for p in positions]))
            for group in self.groups
            if (positions := members.get(id(group)))
        ]
        wait_for_futures([call for _, _, call in calls], timeout=self.policy.detector_timeout_s)
        results: dict[int, Detections] = {}
        for group, positions, call in calls:
            found = self._group_result(group, call, len(positions))
            if found is None:
                self._discard(frames[p] for p in positions)
                continue
            native = [
                self._to_native(frames[p], dets) for p, dets in zip(positions, found, strict=True)
            ]
            results.update(zip(positions, native, strict=True))
        self.metrics.latency.labels("detect").observe(time.perf_counter() - started)
        kept = sorted(results)
        return Round([frames[p] for p in kept], [results[p] for p in kept])

    def _detector_input(self, frame: Frame) -> np.ndarray[Any, Any]:
        """The part of the frame its camera's ``source.crop`` lets the detector see."""
        crop = self._crops.get(frame.camera_id)
        if crop is None:
            return frame.image
        x, y, width, height = crop
        return frame.image[y : y + height, x : x + width]

    def _to_native(self, frame: Frame, detections: Detections) -> Detections:
        """Detections of a cropped input moved back to native pixels (the geometry's)."""
        crop = self._crops.get(frame.camera_id)
        if crop is None:
            return detections
        return detections.shifted(crop[0], crop[1])

    def _group_result(
        self, group: DetectorGroup, call: Future[list[Detections]], expected: int
    ) -> list[Detections] | None:
        """The group's detections, or None (and the group restarted) when it failed."""
        error: Exception
        if not call.done():
            error = DetectorStalledError(
                f"detector {group.name} gave no answer in {self.policy.detector_timeout_s:g} s"
            )
        elif (raised := call.exception()) is not None:
            error = raised if isinstance(raised, Exception) else RuntimeError(repr(raised))
        elif len(found := call.result()) != expected:
            error = RuntimeError(f"detector {group.name}: {len(found)} results for {expected}")
        else:
            return found
        self._detector_failed(group, error)
        return None

    def _detector_failed(self, group: DetectorGroup, error: Exception) -> None:
        delay = self._group_budgets[id(group)].record(time.monotonic())
        logger.error("detector %s (cameras %s): %s", group.name, ", ".join(group.cameras), error)
        units = [self.units[camera] for camera in group.cameras]
        for unit in units:
            unit.fault("detector", error, log=False)
        if delay is None:
            for unit in units:
                unit.fail("detector", f"{describe(error)} (too many restarts)")
            return
        group.restart()
        for unit in units:
            self.metrics.restarts.labels(unit.camera_id, "detector").inc()
            unit.pause(delay)

    def _discard(self, frames: Iterable[Frame]) -> None:
        for frame in frames:
            self.metrics.discarded.labels(frame.camera_id).inc()

    # -- analysis --------------------------------------------------------------------------

    def _analyse_round(self, round_: Round) -> None:
        """Track, run the rules and emit the events of one detected round (analysis thread)."""
        started = time.perf_counter()
        items = [OutgoingEvent(notice) for notice in round_.notices]
        for frame, dets in zip(round_.frames, round_.detections, strict=True):
            items.extend(self._analyse(frame, dets))
        analysed = time.perf_counter()
        if round_.frames:
            self.metrics.latency.labels("track_rules").observe(analysed - started)
        self._emit(items)
        if round_.frames:
            self.metrics.latency.labels("sink").observe(time.perf_counter() - analysed)

    def _analyse(self, frame: Frame, detections: Detections) -> list[OutgoingEvent]:
        """One frame of one camera, inside the camera's error boundary (its unit)."""
        unit = self.units[frame.camera_id]
        events = unit.analyse(frame, detections)
        self.stats.frames += 1
        self.metrics.frames.labels(frame.camera_id).inc()
        self._update_fps(frame.camera_id)
        self.metrics.tracks.labels(frame.camera_id).set(len(unit.analytics.tracker.tracks))
        return events

    def _update_fps(self, camera_id: str) -> None:
        now = time.perf_counter()
        last = self._last_frame_at.get(camera_id)
        self._last_frame_at[camera_id] = now
        if last is not None and now > last:
            rate = 1.0 / (now - last)
            previous = self._fps.get(camera_id, rate)
            self._fps[camera_id] = 0.9 * previous + 0.1 * rate
            self.metrics.fps.labels(camera_id).set(self._fps[camera_id])

    # -- the sink and its error policy -----------------------------------------------------

    def _emit(self, items: list[OutgoingEvent]) -> None:
        """Hand a round's events to the sink, under the one sink-error policy.

        A round the sink refuses (``OutboxFullError``, a full disk, any error) is offered once
        more without its evidence images (their events then say they have none); refused
        again, its events are dropped and counted, except ``camera_status`` events, which are
        offered again with the next round (a camera's state changes are few, and the sink's
        own failure must reach the operator once the sink takes events again). Either way the
        error is logged and counted, the cameras whose events were concerned are marked
        degraded, and the run goes on.
        """
        if not items:
            return
        try:
            self.sink.write_many(items)
        except Exception as exc:  # the sink-error policy: never stops the cameras
            items = self._sink_refused(items, exc)
        for item in items:
            self.metrics.events.labels(item.event.type.value).inc()
        self.stats.events += len(items)

    def _sink_refused(self, items: list[OutgoingEvent], error: Exception) -> list[OutgoingEvent]:
        """Offer the round again without images; return what the sink finally took."""
        self._count_sink_error(error)
        images = sum(len(item.images) for item in items)
        if images:
            bare = [without_images(item) for item in items]
            try:
                self.sink.write_many(bare)
            except Exception as again:  # refused even without images: dropped below
                self._count_sink_error(again)
                error = again
            else:
                self.metrics.images_dropped.inc(images)
                self._sink_degraded(items, error)
                return bare
        kept = [item for item in items if item.event.type is EventType.CAMERA_STATUS]
        for item in kept:  # the failure must become an event: offered again next round
            self._notices.put(item.event)
        dropped = [item for item in items if item.event.type is not EventType.CAMERA_STATUS]
        for item in dropped:
            self.metrics.events_dropped.labels(item.event.type.value).inc()
        self.stats.events_dropped += len(dropped)
        logger.error("sink refused %d events (dropped): %s", len(dropped), describe(error))
        self._sink_degraded(items, error)
        return []

    def _count_sink_error(self, error: Exception) -> None:
        self._sink_failures += 1
        self.metrics.sink_errors.labels(type(error).__name__).inc()
        if self._sink_failures == 1:
            logger.error("the event sink failed", exc_info=error)

    def _sink_degraded(self, items: list[OutgoingEvent], error: Exception) -> None:
        for camera_id in dict.fromkeys(item.event.camera_id for item in items):
            unit = self.units.get(camera_id)
            if unit is not None:
                unit.fault("sink", error, log=False)

    # -- shutdown --------------------------------------------------------------------------

    def _shutdown(self) -> None:
        logger.info("shutting down: ending open incidents, flushing events")
        final: list[OutgoingEvent] = []
        for unit in self.units.values():
            final.extend(unit.finish())
        self._emit([OutgoingEvent(notice) for notice in self._take_notices()] + final)
        for unit in self.units.values():
            unit.stop()
        for group in self.groups:
            group.close()
        self.stats.failed_cameras = [c for c, unit in self.units.items() if unit.failed]
        self.stats.stopped = self.stop_event.is_set()
        self.sink.close()


def without_images(item: OutgoingEvent) -> OutgoingEvent:
    """The event alone, its ``evidence`` saying that no image came with it."""
    if not item.images:
        return item
    evidence = Evidence(snapshot=False, crop=False, blurred=item.event.evidence.blurred)
    return OutgoingEvent(item.event.model_copy(update={"evidence": evidence}))
