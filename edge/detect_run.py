"""The ``detect`` job: one source through the detector, to an annotated video and JSON lines."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import cv2
from tqdm import tqdm

from edge.annotate import draw_detections
from edge.detections import Detections
from edge.detector import Detector
from edge.ingest import CaptureWorker, Frame, SourceConfig
from traffic_monitor.errors import UserFacingError

logger = logging.getLogger(__name__)


@dataclass
class DetectSummary:
    """What a ``detect`` run did (printed at its end and returned to callers)."""

    frames: int = 0
    detections_per_class: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    dropped_frames: int = 0
    skipped_frames: int = 0
    reconnects: int = 0
    error: str | None = None

    @property
    def mean_fps(self) -> float:
        """Frames processed per second of wall-clock time."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "frames": self.frames,
            "detections_per_class": dict(self.detections_per_class.most_common()),
            "mean_fps": round(self.mean_fps, 2),
            "dropped_frames": self.dropped_frames,
            "skipped_frames": self.skipped_frames,
            "reconnects": self.reconnects,
            "error": self.error,
        }


class _Outputs:
    """The annotated video and JSON-lines writers (each optional)."""

    def __init__(self, video_path: Path | None, jsonl_path: Path | None, fps: float) -> None:
        self.video_path = video_path
        self.fps = fps if fps > 0 else 25.0
        self._video: cv2.VideoWriter | None = None
        self._jsonl: IO[str] | None = None
        if jsonl_path is not None:
            jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            self._jsonl = jsonl_path.open("w", encoding="utf-8")

    def __enter__(self) -> _Outputs:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._video is not None:
            self._video.release()
        if self._jsonl is not None:
            self._jsonl.close()

    def write_json(self, record: dict[str, Any]) -> None:
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(record, separators=(",", ":")) + "\n")

    def write_frame(self, image: Any) -> None:
        if self.video_path is None:
            return
        if self._video is None:
            self._video = self._open_video(image.shape[1], image.shape[0])
        self._video.write(image)

    def _open_video(self, width: int, height: int) -> cv2.VideoWriter:
        assert self.video_path is not None
        self.video_path.parent.mkdir(parents=True, exist_ok=True)
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        writer = cv2.VideoWriter(str(self.video_path), fourcc, self.fps, (width, height))
        if not writer.isOpened():
            raise UserFacingError(f"cannot write video {self.video_path}")
        return writer


class DetectRun:
    """Runs capture → detect → write for one source until it ends or is interrupted."""

    def __init__(
        self,
        source: SourceConfig,
        detector: Detector,
        video_out: Path | None = None,
        jsonl_out: Path | None = None,
        progress: bool = True,
    ) -> None:
        """Prepare the run (nothing is opened until :meth:`run`)."""
        self.source = source
        self.detector = detector
        self.video_out = video_out
        self.jsonl_out = jsonl_out
        self.progress = progress
        self.summary = DetectSummary()

    def run(self) -> DetectSummary:
        """Process the whole source; returns the summary (``error`` set if the source failed)."""
        worker = CaptureWorker(self.source)
        worker.start()
        started = time.perf_counter()
        try:
            self._loop(worker)
        finally:
            worker.stop()
            self._finish(worker, time.perf_counter() - started)
        return self.summary

    def _loop(self, worker: CaptureWorker) -> None:
        _wait_for_properties(worker)
        bar = self._progress_bar(worker)
        with _Outputs(self.video_out, self.jsonl_out, self._output_fps(worker)) as outputs:
            while not worker.finished:
                frame = worker.get(timeout=0.5)
                if frame is None:
                    continue
                detections = self._detect(frame)
                self._record(frame, detections, outputs)
                if bar is not None:
                    bar.update(1)
        if bar is not None:
            bar.close()

    def _detect(self, frame: Frame) -> Detections:
        detections = self.detector.detect_one(frame.image)
        return detections.shifted(*frame.offset)

    def _record(self, frame: Frame, detections: Detections, outputs: _Outputs) -> None:
        names = self.detector.names
        self.summary.frames += 1
        self.summary.detections_per_class.update(names[c] for c in detections.class_id)
        outputs.write_json(frame_record(frame, detections, names))
        if self.video_out is not None:
            local = detections.shifted(-frame.offset[0], -frame.offset[1])
            outputs.write_frame(draw_detections(frame.image, local, names))

    def _progress_bar(self, worker: CaptureWorker) -> tqdm[Any] | None:
        if not self.progress or worker.live:
            return None
        total = worker.frame_count or None
        if total and self.source.max_fps and worker.source_fps > self.source.max_fps:
            total = int(total * self.source.max_fps / worker.source_fps)
        return tqdm(total=total, unit="frame", desc=self.source.camera_id, leave=False)

    def _output_fps(self, worker: CaptureWorker) -> float:
        fps = worker.source_fps
        if self.source.max_fps is not None and fps > 0:
            return min(fps, self.source.max_fps)
        return fps or (self.source.max_fps or 25.0)

    def _finish(self, worker: CaptureWorker, seconds: float) -> None:
        self.summary.seconds = seconds
        self.summary.dropped_frames = worker.stats.frames_dropped
        self.summary.skipped_frames = worker.stats.frames_skipped
        self.summary.reconnects = worker.stats.reconnects
        if worker.error is not None:
            self.summary.error = str(worker.error)


def _wait_for_properties(worker: CaptureWorker, timeout: float = 5.0) -> None:
    """Wait until the worker has opened its source and read fps / frame count."""
    deadline = time.monotonic() + timeout
    while worker.source_fps == 0 and not worker.finished and time.monotonic() < deadline:
        time.sleep(0.01)


def frame_record(frame: Frame, detections: Detections, names: tuple[str, ...]) -> dict[str, Any]:
    """The JSON-lines record of one frame."""
    return {
        "camera_id": frame.camera_id,
        "frame": frame.index,
        "timestamp": round(frame.timestamp, 4),
        "detections": [
            {
                "class": names[int(detections.class_id[i])],
                "class_id": int(detections.class_id[i]),
                "confidence": round(float(detections.confidence[i]), 4),
                "box": [round(float(v), 1) for v in detections.xyxy[i]],
            }
            for i in range(len(detections))
        ],
    }
