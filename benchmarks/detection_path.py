"""Per-stage latency and end-to-end fps of the detection path on the shared videos (CPU).

Stages: decode (OpenCV/FFmpeg), pre-process (letterbox + blob), inference (``session.run``),
post-process (decode + NMS + scaling). End to end: the real threaded path (capture worker
decoding while the detector runs). Where Ultralytics is installed (``models`` extra), its own
``predict`` runs on the same ONNX file and the same decoded frames, and the ratio is reported.

Run:
    .venv/bin/python -m benchmarks.detection_path            # full run, writes results JSON
    .venv/bin/python -m benchmarks.detection_path --frames 5 --out /tmp/smoke.json   # smoke
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from edge.detector import Detector, DetectorConfig
from edge.detector.hardware import cpu_flags
from edge.ingest import CaptureWorker, SourceConfig
from traffic_monitor.shared_data import SAMPLE_VIDEOS, shared_path

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).parent / "results" / "detection_path_cpu.json"
Image = np.ndarray[Any, Any]


@dataclass(frozen=True)
class ModelCase:
    """A model file at one input size.

    Attributes:
        label: Name in results, e.g. ``yolov8n@640``.
        path: The ONNX file.
        imgsz: Input size: the square's side, or the long side of a camera-fitted input.
        shape: The input ``(height, width)`` when it is not square (a camera-fitted export).
    """

    label: str
    path: Path
    imgsz: int
    shape: tuple[int, int] | None = None

    @property
    def input_hw(self) -> tuple[int, int]:
        """The network input ``(height, width)``."""
        return self.shape or (self.imgsz, self.imgsz)


def model_cases(cache: Path, wanted: set[str] | None = None) -> list[ModelCase]:
    """The shared models, plus YOLOv8n exported at 320 when Ultralytics is installed.

    Args:
        cache: Folder for exported models.
        wanted: Labels to keep (None: all).
    """
    cases = [
        ModelCase("yolov8n@640", shared_path("models", "yolov8n.onnx"), 640),
        ModelCase("yolo11n@320", shared_path("models", "yolo11n_320.onnx"), 320),
    ]
    if wanted is None or "yolov8n@320" in wanted:
        exported = export_at(shared_path("models", "yolov8n.pt"), 320, cache)
        if exported is not None:
            cases.append(ModelCase("yolov8n@320", exported, 320))
    return [c for c in cases if c.path.is_file() and (wanted is None or c.label in wanted)]


def export_at(checkpoint: Path, imgsz: int, cache: Path) -> Path | None:
    """Export a checkpoint at another input size with Ultralytics; None without the extra."""
    target = cache / f"{checkpoint.stem}_{imgsz}.onnx"
    if target.is_file():
        return target
    try:
        from ultralytics import YOLO
    except ImportError:
        return None
    if not checkpoint.is_file():
        return None
    cache.mkdir(parents=True, exist_ok=True)
    staged = cache / checkpoint.name
    staged.write_bytes(checkpoint.read_bytes())
    exported = Path(str(YOLO(str(staged)).export(format="onnx", imgsz=imgsz, simplify=True)))
    exported.rename(target)
    return target


def decode_frames(video: Path, count: int) -> tuple[list[Image], list[float]]:
    """Decode the first ``count`` frames, timing each decode."""
    capture = cv2.VideoCapture(str(video))
    frames: list[Image] = []
    seconds: list[float] = []
    while len(frames) < count:
        started = time.perf_counter()
        ok, frame = capture.read()
        if not ok:
            break
        seconds.append(time.perf_counter() - started)
        frames.append(frame)
    capture.release()
    return frames, seconds


def stage_latencies(
    detector: Detector, frames: list[Image], reference: Callable[[Image], object] | None
) -> tuple[dict[str, list[float]], list[float]]:
    """Run the detector frame by frame and collect each stage's seconds.

    When ``reference`` (Ultralytics' predict) is given, the two take turns in blocks over the
    same frames (ours, theirs, ours, theirs), so a drift in machine load affects both alike.
    Frame-by-frame alternation is avoided: each ONNX Runtime session's threads spin after a
    run and would slow the other session down.
    """
    detector.detect_one(frames[0])  # warm-up (ONNX Runtime allocates on the first run)
    if reference is not None:
        reference(frames[0])
    stages: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}
    theirs: list[float] = []
    for _ in range(2 if reference is not None else 1):
        for frame in frames:
            detector.detect_one(frame)
            stages["preprocess"].append(detector.timings.preprocess)
            stages["inference"].append(detector.timings.inference)
            stages["postprocess"].append(detector.timings.postprocess)
        if reference is not None:
            theirs += _timed_each(reference, frames)
    return stages, theirs


def _timed_each(run: Callable[[Image], object], frames: list[Image]) -> list[float]:
    seconds = []
    for frame in frames:
        started = time.perf_counter()
        run(frame)
        seconds.append(time.perf_counter() - started)
    return seconds


def threaded_fps(detector: Detector, video: Path, count: int) -> float:
    """Frames per second of the real path: capture worker → queue → detector."""
    worker = CaptureWorker(SourceConfig(uri=str(video), queue_policy="block"))
    worker.start()
    processed, started = 0, time.perf_counter()
    while processed < count and not worker.finished:
        frame = worker.get(timeout=1.0)
        if frame is not None:
            detector.detect_one(frame.image)
            processed += 1
    elapsed = time.perf_counter() - started
    worker.stop()
    return processed / elapsed if elapsed > 0 else 0.0


def ultralytics_predict(case: ModelCase) -> Callable[[Image], object] | None:
    """Ultralytics' own predict on the same ONNX file; None without the ``models`` extra."""
    try:
        from ultralytics import YOLO
    except ImportError:
        return None
    model = YOLO(str(case.path), task="detect")
    options = {"conf": 0.25, "iou": 0.45, "imgsz": case.imgsz, "device": "cpu", "verbose": False}
    return lambda frame: model.predict(frame, **options)


def summarise(values: list[float]) -> dict[str, float]:
    """Milliseconds: mean, p50, p95, p99."""
    ms = np.asarray(values) * 1000.0
    return {
        "mean_ms": round(float(ms.mean()), 3),
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
    }


def run_case(case: ModelCase, video: Path, count: int) -> dict[str, Any]:
    """Benchmark one model on one video."""
    detector = Detector(DetectorConfig(model=case.path))
    frames, decode_s = decode_frames(video, count)
    stages, theirs = stage_latencies(detector, frames, ultralytics_predict(case))
    stages["decode"] = decode_s * (len(stages["inference"]) // len(decode_s))
    per_frame = [sum(parts) for parts in zip(*stages.values(), strict=True)]
    outside_run = statistics.fmean(
        (p + q) / (p + i + q)
        for p, i, q in zip(
            stages["preprocess"], stages["inference"], stages["postprocess"], strict=True
        )
    )
    ours = [
        p + i + q
        for p, i, q in zip(
            stages["preprocess"], stages["inference"], stages["postprocess"], strict=True
        )
    ]
    result: dict[str, Any] = {
        "model": case.label,
        "video": video.name,
        "frames": len(frames),
        "stages": {name: summarise(values) for name, values in stages.items()},
        "sequential_fps": round(len(per_frame) / sum(per_frame), 2),
        "threaded_fps": round(threaded_fps(detector, video, count), 2),
        "share_outside_session_run": round(outside_run, 4),
        "share_outside_session_run_incl_decode": round(
            1 - sum(stages["inference"]) / sum(per_frame), 4
        ),
    }
    if theirs:
        result["ultralytics_predict"] = summarise(theirs)
        result["speedup_vs_ultralytics_predict"] = round(sum(theirs) / sum(ours), 3)
    return result


#: CPU flags that change how fast a network runs (vector width, INT8 dot products, bf16).
INFERENCE_FLAGS = (
    "avx2",
    "fma",
    "avx_vnni",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_bf16",
    "amx_int8",
)


def machine_info() -> dict[str, Any]:
    """CPU, its inference-relevant flags, cores, load and library versions, for comparisons."""
    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    flags = cpu_flags()
    return {
        "cpu": cpu,
        "cpu_flags": [flag for flag in INFERENCE_FLAGS if flag in flags],
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
        "numpy": np.__version__,
        "providers": ort.get_available_providers(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--frames", type=int, default=150, help="frames per video (150)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON")
    parser.add_argument("--models", help="comma-separated model labels to run (default: all)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "tm-bench")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(args.cache / "ultralytics"))
    videos = [shared_path(*name.split("/")) for name in SAMPLE_VIDEOS]
    runs = [
        run_case(case, video, args.frames)
        for case in model_cases(args.cache, set(args.models.split(",")) if args.models else None)
        for video in videos
        if video.is_file()
    ]
    report = {
        "benchmark": "detection_path",
        "command": "python -m benchmarks.detection_path --frames " + str(args.frames),
        "machine": machine_info(),
        "load_average_at_end": os.getloadavg(),
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    logger.warning("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
