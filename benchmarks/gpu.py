"""Many cameras on one GPU: the torch runtime end to end, its network alone, and Ultralytics.

For each camera count (1, 8, 32, 64, 128 by default), in one run on one device:

* ``end_to_end_fps``: aggregate camera-frames per second through the real edge machinery
  (:func:`benchmarks.capacity.measure_streams`: one capture worker per camera decoding the
  shared overpass clip looped and paced as a live 25 fps camera, every frame offered, one
  detector on ``runtime: torch`` batched across the cameras, per camera tracking, the scene's
  rules and event serialisation), optionally split over several processes sharing the GPU
  (``--processes``, as several ``edge run`` would be);
* ``network_fps``: the converted network alone on a batch of one frame per camera already
  letterboxed on the device (the ceiling the rest of the path is measured against);
* ``ultralytics_fps``: Ultralytics' own ``predict`` on the same frames as one batch per round
  (same weights as a ``.pt`` checkpoint, same device, FP16 on CUDA) and its ByteTrack
  (``BYTETracker``) per camera.

Each count is time-boxed; the device, GPU memory, CPU cores used, drops and the detect call's
latency per batch are recorded beside the rates. Without CUDA it runs on the CPU (small counts,
``--cameras 1 2``) and writes ``realtime_gpu_cpu_dryrun.json``, never GPU figures.

Run::

    .venv/bin/traffic-monitor bench --gpu                                   # on a CUDA machine
    .venv/bin/traffic-monitor bench --gpu --cameras 1 2 --gpu-seconds 5    # CPU dry run
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.capacity import CapacityConfig, measure_streams
from benchmarks.detection_path import machine_info
from edge.detector import Detector, DetectorConfig, TorchYoloModel
from edge.detector.resolve import bundled_model
from edge.scene import SceneConfig
from edge.scene.config import load_scene
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import REPO_ROOT, shared_path

logger = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).parent / "results"
SCENE = REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml"
CLIPS = ("vn_nga_ba_hue_overpass_20s.mp4", "intersection_cctv_30s.mp4", "vn_boulevard_ptz_10s.mp4")
CAMERA_COUNTS = (1, 8, 32, 64, 128)
FRAMES_PER_CLIP = 48
"""Frames decoded once per clip for the network and Ultralytics loops (cameras take turns)."""


@dataclass
class GpuBenchConfig:
    """What ``bench --gpu`` runs.

    Attributes:
        cameras: Camera counts, one measurement each.
        seconds: Measured window of the end-to-end run per count (after ``warmup_s``).
        warmup_s: Seconds run before the window opens (model warm, queues full).
        loop_seconds: Seconds of the network-only and of the Ultralytics loop per count.
        processes: Processes sharing the device for the end-to-end run (cameras split).
        device: ``cuda``, ``cuda:N`` or ``cpu``; empty: CUDA when there is one.
        model: The ONNX export (default: the bundled dynamic-size COCO YOLOv8n).
        weights: The same weights as an Ultralytics ``.pt`` (for Ultralytics).
        imgsz: Input long side.
        half: FP16 on CUDA.
        compile: ``torch_compile`` mode of the detector.
        budget_s: Counts that would start after this many seconds are left out (the report
            says so), so a short GPU window always ends with a file.
        ultralytics: Measure Ultralytics beside ours.
    """

    cameras: list[int] = field(default_factory=lambda: list(CAMERA_COUNTS))
    seconds: float = 10.0
    warmup_s: float = 4.0
    loop_seconds: float = 4.0
    processes: int = 1
    device: str | None = None
    model: Path = field(default_factory=lambda: bundled_model("coco-yolov8n"))
    weights: Path = field(default_factory=lambda: shared_path("models", "yolov8n.pt"))
    imgsz: int = 640
    half: bool = True
    compile: str = "off"
    budget_s: float = 420.0
    ultralytics: bool = True


def pick_device(wanted: str | None) -> str:
    """The configured device, else ``cuda`` when PyTorch sees a GPU, else ``cpu``."""
    if wanted:
        return wanted
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def results_path(device: str) -> Path:
    """``realtime_gpu.json`` for a CUDA run, ``realtime_gpu_cpu_dryrun.json`` otherwise."""
    name = "realtime_gpu.json" if device.startswith("cuda") else "realtime_gpu_cpu_dryrun.json"
    return RESULTS_DIR / name


def detector_config(config: GpuBenchConfig, scene: SceneConfig, device: str) -> DetectorConfig:
    """The scene's detector section on the torch runtime, on ``device``."""
    fields = scene.detector.model_dump()
    fields.update(
        model=config.model,
        imgsz=config.imgsz,
        runtime="torch",
        providers=["cpu"],
        device=device,
        torch_half=config.half,
        torch_compile=config.compile,
    )
    return DetectorConfig.model_validate(fields)


def clip_frames() -> list[list[np.ndarray[Any, Any]]]:
    """The first :data:`FRAMES_PER_CLIP` frames of each shared clip there is.

    The overpass clip (the end-to-end run's) is needed; the others are used where they were
    brought along (a GPU server short of space may carry that one alone).

    Raises:
        UserFacingError: The overpass clip is absent (``TRAFFIC_MONITOR_SHARED`` unset).
    """
    clips = []
    for name in CLIPS:
        path = shared_path("data", "videos", name)
        capture = cv2.VideoCapture(str(path))
        frames: list[np.ndarray[Any, Any]] = []
        while len(frames) < FRAMES_PER_CLIP:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        if frames:
            clips.append(frames)
        elif name == CLIPS[0]:
            raise UserFacingError(f"clip {path} is absent (set TRAFFIC_MONITOR_SHARED)")
        else:
            logger.warning("clip %s is absent: the other clips stand in for it", path)
    return clips


def camera_round(clips: list[list[np.ndarray[Any, Any]]], cameras: int, turn: int) -> list[Any]:
    """One frame per camera: camera ``i`` plays clip ``i % 3`` from its own offset."""
    return [
        clips[i % len(clips)][(turn + 7 * i) % len(clips[i % len(clips)])] for i in range(cameras)
    ]


def end_to_end(config: GpuBenchConfig, device: str, cameras: int) -> dict[str, Any]:
    """Aggregate processed camera-frames per second through the edge pipeline."""
    shares = _split(cameras, config.processes)
    if len(shares) == 1:
        parts = [_streams_in_process(config, device, cameras)]
    else:
        with ProcessPoolExecutor(len(shares), mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_streams_in_process, config, device, n) for n in shares]
            parts = [future.result() for future in futures]
    fps = sum(p["processed_fps_per_camera_mean"] * p["streams"] for p in parts)
    return {
        "end_to_end_fps": round(fps, 1),
        "processes": len(parts),
        "frames_dropped": sum(p["frames_dropped"] for p in parts),
        "drop_share": round(
            sum(p["frames_dropped"] for p in parts)
            / max(1, sum(p["frames_delivered"] for p in parts)),
            4,
        ),
        "mean_batch": [p["mean_batch"] for p in parts],
        "detect_ms_per_batch": [p["detect_ms_per_batch"] for p in parts],
        "cpu_cores_used": round(sum(p["cpu_cores_used"] for p in parts), 2),
        "gpu_memory_mib": [p["gpu_memory_mib"] for p in parts],
        "events": sum(p["events"] for p in parts),
    }


def _split(cameras: int, processes: int) -> list[int]:
    """Cameras per process, as even as possible, no empty process."""
    count = max(1, min(processes, cameras))
    return [cameras // count + (1 if i < cameras % count else 0) for i in range(count)]


def _streams_in_process(config: GpuBenchConfig, device: str, cameras: int) -> dict[str, Any]:
    """:func:`measure_streams` with a torch detector of this process (a pool worker or not)."""
    scene = load_scene(SCENE)
    detector = Detector(detector_config(config, scene, device))
    _reset_gpu_peak(device)
    video = shared_path("data", "videos", CLIPS[0])
    paced = CapacityConfig(
        camera_fps=25.0,
        process_fps=25.0,
        duration_s=config.seconds,
        warmup_s=config.warmup_s,
        queue_size=2,
        backend="torch",
    )
    start_cpu = time.process_time()
    figures = measure_streams(cameras, detector, scene, video, paced)
    spent = config.seconds + config.warmup_s
    figures["cpu_cores_used"] = round((time.process_time() - start_cpu) / spent, 2)
    figures["gpu_memory_mib"] = _gpu_peak_mib(device)
    return figures


WARMUP_LOOP_S = 1.0
"""Seconds of calls before a loop is timed: the first calls of a process or of a new batch
shape are slow (CUDA's lazy kernel loading and cuDNN's choices, oneDNN's on the CPU)."""


def timed_calls(call: Callable[[int], None], seconds: float) -> list[float]:
    """Seconds of each ``call(turn)`` over ``seconds`` (at least 3), after a warm-up."""
    turn = 0
    warm_until = time.perf_counter() + WARMUP_LOOP_S
    while True:
        call(turn)
        turn += 1
        if time.perf_counter() >= warm_until:
            break
    calls: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(calls) < 3:
        start = time.perf_counter()
        call(turn)
        calls.append(time.perf_counter() - start)
        turn += 1
    return calls


def _rates(prefix: str, unit: str, frames: int, calls: list[float]) -> dict[str, Any]:
    return {
        f"{prefix}_fps": round(frames * len(calls) / sum(calls), 1),
        f"{prefix}_ms_per_{unit}_p50": round(1000 * float(np.percentile(calls, 50)), 2),
        f"{prefix}_ms_per_{unit}_p99": round(1000 * float(np.percentile(calls, 99)), 2),
    }


def network_fps(
    model: TorchYoloModel, frames: Sequence[Any], shape: tuple[int, int], seconds: float
) -> dict[str, Any]:
    """Frames per second of the network alone on a device batch, and its latency per call."""
    torch = import_torch_module()
    batch, _ = model.letterbox(frames, shape)

    def forward(_: int) -> None:
        with torch.inference_mode():
            model.forward(batch)
        _synchronise(model)

    return _rates("network", "batch", len(frames), timed_calls(forward, seconds))


def detector_loop(
    detector: Detector, clips: list[list[Any]], cameras: int, seconds: float
) -> dict[str, Any]:
    """Our detector (upload, letterbox, network, NMS, copy back) on rounds of frames, timed."""

    def detect(turn: int) -> None:
        detector.detect(camera_round(clips, cameras, turn))

    return _rates("detect", "batch", cameras, timed_calls(detect, seconds))


def ultralytics_loop(
    config: GpuBenchConfig, device: str, clips: list[list[Any]], cameras: int
) -> dict[str, Any] | None:
    """Ultralytics ``predict`` on one batch per round, then its ByteTrack per camera."""
    predict_and_track = ultralytics_tracker(config, device, cameras)
    if predict_and_track is None:
        return None

    def round_of(turn: int) -> None:
        predict_and_track(camera_round(clips, cameras, turn))

    calls = timed_calls(round_of, config.loop_seconds)
    return _rates("ultralytics", "round", cameras, calls)


def ultralytics_tracker(
    config: GpuBenchConfig, device: str, cameras: int
) -> Callable[[list[Any]], None] | None:
    """A callable running Ultralytics predict + per-camera ByteTrack, or None without it."""
    try:
        from ultralytics import YOLO
        from ultralytics.trackers.byte_tracker import BYTETracker
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml
    except ImportError as exc:
        logger.warning("Ultralytics left out: %s", exc)
        return None
    if not config.weights.is_file():
        logger.warning("Ultralytics left out: %s is absent", config.weights)
        return None
    model = YOLO(str(config.weights), task="detect")
    settings = IterableSimpleNamespace(**YAML.load(check_yaml("bytetrack.yaml")))
    trackers = [_byte_tracker(BYTETracker, settings) for _ in range(cameras)]
    options = {
        "imgsz": config.imgsz,
        "conf": 0.25,
        "iou": 0.45,
        "device": device,
        "half": config.half and device.startswith("cuda"),
        "verbose": False,
    }

    def predict_and_track(frames: list[Any]) -> None:
        results = model.predict(frames, **options)
        for tracker, result, frame in zip(trackers, results, frames, strict=True):
            tracker.update(result.boxes.cpu().numpy(), frame)

    return predict_and_track


def _byte_tracker(tracker_class: Any, settings: Any) -> Any:
    """Ultralytics' ByteTrack for a 25 fps camera (older releases take the frame rate)."""
    if "frame_rate" in inspect.signature(tracker_class).parameters:
        return tracker_class(settings, frame_rate=25)
    return tracker_class(settings)


def run_gpu_bench(config: GpuBenchConfig, out: Path | None = None) -> dict[str, Any]:
    """Every camera count within the time budget.

    Args:
        config: What to run.
        out: The JSON report, rewritten after every count (a run cut short keeps its
            figures); default :func:`results_path` of the device.

    Returns:
        The report.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    started = time.perf_counter()
    device = pick_device(config.device)
    out = out or results_path(device)
    out.parent.mkdir(parents=True, exist_ok=True)
    clips = clip_frames()
    scene = load_scene(SCENE)
    detector = Detector(detector_config(config, scene, device))
    assert isinstance(detector.model, TorchYoloModel)
    report: dict[str, Any] = _header(config, device, detector.model)
    for cameras in config.cameras:
        if time.perf_counter() - started > config.budget_s:
            report["left_out"].append({"cameras": cameras, "reason": "time budget spent"})
            continue
        row = _one_count(config, device, detector, clips, cameras)
        report["runs"].append(row)
        key = str(cameras)
        report["end_to_end_fps"][key] = row["end_to_end_fps"]
        report["network_fps"][key] = row["network_fps"]
        report["ultralytics_fps"][key] = row.get("ultralytics_fps")
        _write(out, report)
        logger.info(
            "%d cameras: end to end %.0f fps, network %.0f fps, Ultralytics %s fps",
            cameras,
            row["end_to_end_fps"],
            row["network_fps"],
            row.get("ultralytics_fps"),
        )
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["load_average_at_end"] = os.getloadavg()
    report["out"] = str(out)
    _write(out, report)
    return report


def _write(out: Path, report: dict[str, Any]) -> None:
    """Replace the report file whole (a run stopped mid-write keeps the previous one)."""
    partial = out.with_name(out.name + ".partial")
    partial.write_text(json.dumps(report, indent=2) + "\n")
    partial.replace(out)


def _one_count(
    config: GpuBenchConfig, device: str, detector: Detector, clips: list[list[Any]], cameras: int
) -> dict[str, Any]:
    """Every figure of one camera count."""
    assert isinstance(detector.model, TorchYoloModel)
    frames = camera_round(clips, cameras, 0)
    shape = detector.input_size_for(frames[0])
    _reset_gpu_peak(device)
    row: dict[str, Any] = {"cameras": cameras}
    row.update(network_fps(detector.model, frames, shape, config.loop_seconds))
    row.update(detector_loop(detector, clips, cameras, config.loop_seconds))
    row["gpu_memory_mib_detector"] = _gpu_peak_mib(device)
    row.update(end_to_end(config, device, cameras))
    if config.ultralytics:
        row.update(ultralytics_loop(config, device, clips, cameras) or {})
    theirs = row.get("ultralytics_fps")
    row["speedup_vs_ultralytics"] = round(row["end_to_end_fps"] / theirs, 2) if theirs else None
    return row


def _header(config: GpuBenchConfig, device: str, model: TorchYoloModel) -> dict[str, Any]:
    import torch

    from benchmarks.realtime import gpu_info

    settings = asdict(config)
    settings.update(model=str(config.model), weights=str(config.weights))
    return {
        "benchmark": "realtime_gpu",
        "device": str(model.device),
        "device_name": torch.cuda.get_device_name(model.device)
        if device.startswith("cuda")
        else "cpu",
        "gpu": gpu_info(),
        "torch": torch.__version__,
        "precision": "fp16" if model.half else "fp32",
        "input": list(model.info.input_size),
        "clips": list(CLIPS),
        "end_to_end_clip": CLIPS[0],
        "settings": settings,
        "machine": machine_info(),
        "load_average_at_start": os.getloadavg(),
        "end_to_end_fps": {},
        "network_fps": {},
        "ultralytics_fps": {},
        "runs": [],
        "left_out": [],
    }


def import_torch_module() -> Any:
    """``torch`` (only imported by this benchmark when it runs)."""
    import torch

    return torch


def _synchronise(model: TorchYoloModel) -> None:
    if model.device.type == "cuda":
        import_torch_module().cuda.synchronize(model.device)


def _reset_gpu_peak(device: str) -> None:
    if device.startswith("cuda"):
        import_torch_module().cuda.reset_peak_memory_stats(device)


def _gpu_peak_mib(device: str) -> float | None:
    if not device.startswith("cuda"):
        return None
    return round(float(import_torch_module().cuda.max_memory_allocated(device)) / 2**20, 1)
