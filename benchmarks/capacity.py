"""Sustained capacity: how many real-time cameras one box keeps up with, measured.

N cameras run through the real edge machinery of ``edge run``: one capture worker per
camera (the shared clip looped and paced as a live 25 fps camera, its frames skipped down to
10 fps by the ingest's ``max_fps``, a bounded queue that drops its oldest frame when the
detector falls behind), one detector batched across the cameras, and per camera tracking,
the scene's rules and event serialisation (:class:`edge.pipeline.runner.Pipeline`). After a
warm-up, the counters are read over a fixed window. N grows until frames are dropped or a
camera's processed rate falls below its 10 fps; the largest N that held is the capacity.

Run (a few minutes per model; part of ``traffic-monitor bench --capacity``)::

    .venv/bin/traffic-monitor bench --capacity --no-path --models yolo11n@320
    .venv/bin/traffic-monitor bench --capacity --no-path --capacity-backend openvino-f32
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from edge.detector import Detector, DetectorConfig
from edge.detector.model import ModelError
from edge.ingest import CaptureWorker, SourceConfig
from edge.pipeline.runner import Pipeline
from edge.pipeline.sink import OutgoingEvent
from edge.scene import SceneConfig
from traffic_monitor.contract import Event, encode

logger = logging.getLogger(__name__)

BACKENDS = ("onnxruntime", "openvino-f32", "openvino-bf16", "openvino-auto")
"""Detector back-ends a benchmark can run: ONNX Runtime (with the configured providers), or
the native OpenVINO runtime at a precision (``auto``: OpenVINO's default for this CPU)."""


def backend_settings(backend: str, providers: Sequence[str]) -> dict[str, Any]:
    """The detector config fields that select a back-end (see :data:`BACKENDS`).

    Raises:
        ValueError: The back-end is not one of :data:`BACKENDS`.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    if backend == "onnxruntime":
        return {"runtime": "onnxruntime", "providers": list(providers)}
    precision = backend.removeprefix("openvino-")
    return {"runtime": "openvino", "openvino_precision": precision, "providers": ["cpu"]}


def backend_config(base: DetectorConfig, backend: str, providers: Sequence[str]) -> DetectorConfig:
    """``base`` switched to a back-end, validated like a config file."""
    fields = base.model_dump()
    fields.update(backend_settings(backend, providers))
    return DetectorConfig.model_validate(fields)


@dataclass
class CapacityConfig:
    """How the sustained capacity is searched.

    Attributes:
        camera_fps: Frame rate of each simulated camera (every frame is decoded).
        process_fps: Frames per second processed per camera (the ingest's ``max_fps``).
        duration_s: Measured window per stream count (after the warm-up).
        warmup_s: Seconds run before the window opens (queues fill, sessions warm up).
        start_streams: First stream count tried.
        max_streams: Highest stream count tried.
        max_drop_share: Dropped / delivered frames above which a count fails. Zero is the
            strict reading of "no drop"; a little slack keeps one scheduler hiccup of a shared
            machine from deciding the result.
        min_rate_share: A count fails when a camera's processed rate (or its decoded rate)
            falls below this share of the target.
        queue_size: Capture queue length per camera (the edge default is 2).
        backend: Detector back-end (:data:`BACKENDS`).
    """

    camera_fps: float = 25.0
    process_fps: float = 10.0
    duration_s: float = 20.0
    warmup_s: float = 3.0
    start_streams: int = 1
    max_streams: int = 16
    max_drop_share: float = 0.005
    min_rate_share: float = 0.97
    queue_size: int = 2
    backend: str = "onnxruntime"


class PacedCamera(CaptureWorker):
    """A looped file delivered as a live camera at ``camera_fps``.

    The shared clips are 30 fps; a city's cameras are 25 fps. Every frame of the file is still
    decoded, but its timestamp is ``index / camera_fps`` (played slightly slower), so the
    capture worker paces, skips and drops exactly as it would for a 25 fps camera.
    """

    def __init__(self, config: SourceConfig, camera_fps: float) -> None:
        """Prepare the worker; ``config`` should be realtime and looped."""
        super().__init__(config)
        self.camera_fps = camera_fps

    def _timestamp(self, capture: cv2.VideoCapture) -> float:
        self._last_pts = self._index / self.camera_fps
        return self._last_pts

    def _frame_period(self) -> float:
        return 1.0 / self.camera_fps


class EncodingSink:
    """Serialises every event to the wire format (as publishing would) and counts them."""

    def __init__(self) -> None:
        """Start at zero."""
        self.events = 0

    def write(self, event: Event) -> None:
        """Encode one event."""
        encode(event)
        self.events += 1

    def write_many(self, items: Sequence[OutgoingEvent]) -> None:
        """Encode one round's events (the pipeline's sink call)."""
        for item in items:
            self.write(item.event)

    def close(self) -> None:
        """Nothing to flush."""


@dataclass(frozen=True)
class _Counters:
    """Counters of every camera at one moment."""

    at: float
    cpu_s: float
    decoded: dict[str, int]
    delivered: dict[str, int]
    dropped: dict[str, int]
    processed: dict[str, float]
    detect_s: float
    batches: int


def detector_for(
    scene: SceneConfig,
    model: Path,
    providers: Sequence[str],
    backend: str = "onnxruntime",
    imgsz: int | None = None,
) -> Detector:
    """The detector as ``edge run`` builds it: the scene's thresholds, the given model file.

    The scene's class filter is dropped when the model lacks one of its classes (a model
    with its own class list, such as vn-vehicles); a fixed-size model runs at its own input
    size whatever the scene's ``imgsz``.

    Args:
        scene: The scene (its detector section gives thresholds, classes and input size).
        model: The ONNX file.
        providers: ONNX Runtime providers (for the onnxruntime back-end).
        backend: One of :data:`BACKENDS`.
        imgsz: Input long side for a dynamic-size model (default: the scene's).
    """
    update: dict[str, Any] = {"model": model}
    if imgsz is not None:
        update["imgsz"] = imgsz
    config = backend_config(scene.detector, backend, providers).model_copy(update=update)
    try:
        return Detector(config)
    except ModelError as exc:
        if config.classes is None or "unknown class" not in str(exc):
            raise
        logger.info("%s: keeping every class (%s)", model.name, exc)
        return Detector(config.model_copy(update={"classes": None}))


def camera_scenes(scene: SceneConfig, count: int) -> list[SceneConfig]:
    """Copies of a scene, one per camera, with camera ids cam0, cam1 and so on."""
    return [
        scene.model_copy(update={"camera": scene.camera.model_copy(update={"id": f"cam{i}"})})
        for i in range(count)
    ]


def measure_streams(
    streams: int,
    detector: Detector,
    scene: SceneConfig,
    video: Path,
    config: CapacityConfig,
    *,
    analysis_thread: bool = True,
) -> dict[str, Any]:
    """Run ``streams`` paced cameras through the pipeline and report rates and drops.

    ``analysis_thread`` is the pipeline's (``edge run``'s ``analysis_thread``; compared in
    :mod:`benchmarks.analysis_overlap`).

    Returns:
        Per-count figures: processed and decoded fps per camera (min, mean), dropped frames
        and their share, mean batch size and detect time per batch, CPU use, load average,
        and whether the count was sustained.
    """
    scenes = camera_scenes(scene, streams)
    sources = {
        s.camera.id: PacedCamera(
            SourceConfig(
                uri=str(video),
                camera_id=s.camera.id,
                realtime=True,
                loop=True,
                max_fps=config.process_fps,
                queue_size=config.queue_size,
            ),
            config.camera_fps,
        )
        for s in scenes
    }
    sink = EncodingSink()
    pipeline = Pipeline(scenes, detector, sources, sink, analysis_thread=analysis_thread)
    runner = threading.Thread(target=pipeline.run, name=f"capacity-{streams}", daemon=True)
    runner.start()
    try:
        time.sleep(config.warmup_s)
        before = _read(pipeline, sources)
        time.sleep(config.duration_s)
        after = _read(pipeline, sources)
    finally:
        pipeline.stop()
        runner.join(timeout=30.0)
    result = _figures(before, after, streams, config)
    result["events"] = sink.events
    return result


def _read(pipeline: Pipeline, sources: dict[str, PacedCamera]) -> _Counters:
    registry = pipeline.metrics.registry
    processed = {
        camera: registry.get_sample_value("edge_frames_total", {"camera": camera}) or 0.0
        for camera in sources
    }
    return _Counters(
        at=time.perf_counter(),
        cpu_s=time.process_time(),
        decoded={c: s.stats.frames_read + s.stats.frames_skipped for c, s in sources.items()},
        delivered={c: s.stats.frames_read for c, s in sources.items()},
        dropped={c: s.stats.frames_dropped for c, s in sources.items()},
        processed=processed,
        detect_s=registry.get_sample_value("edge_stage_seconds_sum", {"stage": "detect"}) or 0.0,
        batches=pipeline.stats.batches,
    )


def _figures(
    before: _Counters, after: _Counters, streams: int, config: CapacityConfig
) -> dict[str, Any]:
    seconds = after.at - before.at
    cameras = list(before.decoded)
    processed = [(after.processed[c] - before.processed[c]) / seconds for c in cameras]
    decoded = [(after.decoded[c] - before.decoded[c]) / seconds for c in cameras]
    delivered = sum(after.delivered[c] - before.delivered[c] for c in cameras)
    dropped = sum(after.dropped[c] - before.dropped[c] for c in cameras)
    batches = after.batches - before.batches
    frames = sum(after.processed[c] - before.processed[c] for c in cameras)
    drop_share = dropped / delivered if delivered else 0.0
    sustained = (
        drop_share <= config.max_drop_share
        and min(processed) >= config.min_rate_share * config.process_fps
        and min(decoded) >= config.min_rate_share * config.camera_fps
    )
    return {
        "streams": streams,
        "seconds": round(seconds, 2),
        "processed_fps_per_camera_min": round(min(processed), 2),
        "processed_fps_per_camera_mean": round(sum(processed) / streams, 2),
        "decoded_fps_per_camera_min": round(min(decoded), 2),
        "frames_delivered": delivered,
        "frames_dropped": dropped,
        "drop_share": round(drop_share, 4),
        "mean_batch": round(frames / batches, 2) if batches else 0.0,
        "detect_ms_per_batch": round(1000 * (after.detect_s - before.detect_s) / batches, 2)
        if batches
        else 0.0,
        "cpu_use_of_box": round((after.cpu_s - before.cpu_s) / seconds / (os.cpu_count() or 1), 3),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "sustained": sustained,
    }


def search_capacity(
    detector: Detector, scene: SceneConfig, video: Path, config: CapacityConfig
) -> dict[str, Any]:
    """Add cameras one at a time until a count is not sustained.

    Returns:
        ``{"sustained_streams": largest count that held, "runs": per-count figures,
        "criteria": …}``; 0 when even the first count failed.
    """
    runs: list[dict[str, Any]] = []
    best = 0
    for streams in range(config.start_streams, config.max_streams + 1):
        result = measure_streams(streams, detector, scene, video, config)
        logger.info(
            "%d streams: %.2f fps/camera (min), %d dropped (%.2f %%), sustained=%s",
            streams,
            result["processed_fps_per_camera_min"],
            result["frames_dropped"],
            100 * result["drop_share"],
            result["sustained"],
        )
        runs.append(result)
        if not result["sustained"]:
            break
        best = streams
    return {
        "sustained_streams": best,
        "criteria": {
            "camera_fps": config.camera_fps,
            "process_fps_per_camera": config.process_fps,
            "window_s": config.duration_s,
            "warmup_s": config.warmup_s,
            "max_drop_share": config.max_drop_share,
            "min_rate_share": config.min_rate_share,
            "queue_size": config.queue_size,
            "backend": config.backend,
        },
        "runs": runs,
    }
