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
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.detections import Detections
from edge.evidence import EvidenceConfig, EvidenceWriter
from edge.ingest import Frame
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.metrics import PipelineMetrics
from edge.pipeline.sink import EventSink, OutgoingEvent
from edge.rules import ExternalSignalStates
from edge.scene import SceneConfig
from traffic_monitor.contract import Event

logger = logging.getLogger(__name__)

ANALYSIS_QUEUE_ROUNDS = 1
"""Detected rounds that may wait for the analysis thread: one is analysed while the next is
detected; more would only add latency (and memory for their frames)."""
_PUT_POLL_S = 0.1


class BatchDetector(Protocol):
    """The detector as the pipeline uses it (``edge.detector.Detector`` fits)."""

    names: tuple[str, ...]

    def detect(self, frames: Sequence[np.ndarray[Any, Any]]) -> list[Detections]:
        """Detect objects in several frames at once."""
        ...


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


Round = tuple[list[Frame], list[Detections]]
"""One round of the frame loop: the frames collected and their detections, row for row."""


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
        external_signals: ExternalSignalStates | None = None,
        analysis_thread: bool = True,
        node_id: str = "default",
    ) -> None:
        """Build one :class:`CameraAnalytics` per scene; sources are keyed by camera id.

        Args:
            scenes: One validated scene per camera.
            detector: One detector for every camera, or a detector per camera id (cameras
                given the same detector object are detected in one batched call per round;
                see :func:`edge.pipeline.commands.build_detectors`).
            sources: Frame source per camera id.
            sink: Where events go; closed at shutdown.
            metrics: Prometheus metrics (a private registry by default).
            evidence_dir: Folder for evidence images; none: events carry no images.
            external_signals: Shared table of externally pushed signal states.
            analysis_thread: Analyse each round in a thread of its own while the next is
                detected (:class:`AnalysisWorker`); False: detection and analysis take turns
                in one thread.
            node_id: This edge node's id (``transport.mqtt.node_id``): events carry it.

        Raises:
            ValueError: A camera has no frame source or no detector.
        """
        self.detectors = self._per_camera(scenes, detector)
        self.sources = dict(sources)
        self.sink = sink
        self.metrics = metrics or PipelineMetrics()
        self.external_signals = external_signals or ExternalSignalStates()
        self.analysis_thread = analysis_thread
        self.stop_event = threading.Event()
        self.cameras: dict[str, CameraAnalytics] = {}
        for scene in scenes:
            names = self.detectors[scene.camera.id].names
            evidence = None
            if evidence_dir is not None:
                config = EvidenceConfig(directory=evidence_dir, blur=scene.privacy_blur)
                evidence = EvidenceWriter(config, names)
            self.cameras[scene.camera.id] = CameraAnalytics(
                scene,
                names,
                external_signals=self.external_signals,
                evidence=evidence,
                node_id=node_id,
            )
        missing = set(self.cameras) - set(self.sources)
        if missing:
            raise ValueError(f"no frame source for camera(s) {', '.join(sorted(missing))}")
        self.stats = RunStats()
        self._last_frame_at: dict[str, float] = {}
        self._fps: dict[str, float] = {}

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

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler)."""
        self.stop_event.set()

    def run(self, max_frames: int | None = None) -> RunStats:
        """Run until every source has finished, ``stop()`` or ``max_frames`` frames."""
        start = time.perf_counter()
        self._start_sources()
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
            frames = self._collect()
            if not frames:
                if self._all_finished():
                    return
                continue
            self._hand_over(analysis, (frames, self._detect_timed(frames)))
            self.stats.batches += 1
            detected += len(frames)
            if max_frames is not None and detected >= max_frames:
                return

    def _start_sources(self) -> None:
        for camera_id, source in self.sources.items():
            source.start()
            self.metrics.camera_up.labels(camera_id).set(1)

    def _collect(self) -> list[Frame]:
        started = time.perf_counter()
        frames = []
        for camera_id, source in self.sources.items():
            frame = source.get(timeout=0.05)
            self.metrics.camera_up.labels(camera_id).set(0 if source.finished else 1)
            if frame is not None:
                frames.append(frame)
            dropped = getattr(getattr(source, "stats", None), "dropped", None)
            if isinstance(dropped, int):
                self.metrics.dropped.labels(camera_id).set(dropped)
        self.metrics.latency.labels("capture_wait").observe(time.perf_counter() - started)
        return frames

    def _hand_over(self, analysis: AnalysisWorker | None, round_: Round) -> None:
        """Queue a round for the analysis thread (waiting while it is busy), or analyse it here."""
        if analysis is None:
            self._analyse_round(round_)
            return
        waited = analysis.put(round_)
        self.metrics.latency.labels("analysis_wait").observe(waited)

    def _detect_timed(self, frames: list[Frame]) -> list[Detections]:
        started = time.perf_counter()
        detections = self._detect(frames)
        self.metrics.latency.labels("detect").observe(time.perf_counter() - started)
        return detections

    def _analyse_round(self, round_: Round) -> None:
        """Track, run the rules and emit the events of one detected round (analysis thread)."""
        frames, detections = round_
        started = time.perf_counter()
        events: list[Event] = []
        for frame, dets in zip(frames, detections, strict=True):
            events.extend(self._analyse(frame, dets))
        analysed = time.perf_counter()
        self.metrics.latency.labels("track_rules").observe(analysed - started)
        self._emit(events)
        self.metrics.latency.labels("sink").observe(time.perf_counter() - analysed)

    def _detect(self, frames: list[Frame]) -> list[Detections]:
        """One batched call per detector (model group) for the frames of its cameras."""
        groups: dict[int, tuple[BatchDetector, list[int]]] = {}
        for position, frame in enumerate(frames):
            detector = self.detectors[frame.camera_id]
            groups.setdefault(id(detector), (detector, []))[1].append(position)
        results: list[Detections] = [Detections.empty()] * len(frames)
        for detector, positions in groups.values():
            found = detector.detect([frames[p].image for p in positions])
            for position, detections in zip(positions, found, strict=True):
                results[position] = detections
        return results

    def _analyse(self, frame: Frame, detections: Detections) -> list[Event]:
        camera = self.cameras[frame.camera_id]
        events = camera.process(
            detections,
            index=frame.index,
            timestamp=frame.timestamp,
            wall_time=frame.wall_time,
            image=frame.image,
        )
        self.stats.frames += 1
        self.metrics.frames.labels(frame.camera_id).inc()
        self._update_fps(frame.camera_id)
        self.metrics.tracks.labels(frame.camera_id).set(len(camera.tracker.tracks))
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

    def _emit(self, events: list[Event]) -> None:
        if not events:
            return
        self.sink.write_many([OutgoingEvent(event) for event in events])
        for event in events:
            self.metrics.events.labels(event.type.value).inc()
        self.stats.events += len(events)

    def _all_finished(self) -> bool:
        return all(source.finished for source in self.sources.values())

    def _shutdown(self) -> None:
        logger.info("shutting down: ending open incidents, flushing events")
        for camera in self.cameras.values():
            self._emit(camera.finish())
        for camera_id, source in self.sources.items():
            source.stop()
            self.metrics.camera_up.labels(camera_id).set(0)
        self.sink.close()
