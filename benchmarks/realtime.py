"""The whole real-time path, stage by stage, against Ultralytics' predict + track.

Per model: decode → pre-process → inference → post-process → tracking → rules → publish
(event serialisation; the network is left out) on the shared overpass clip with its scene
config, p50/p95/p99 per stage, end-to-end frames per second, the share of frame time inside
the network, a capacity estimate (25 fps cameras processed at 10 fps each), peak memory, and
Ultralytics ``predict`` + ``track`` (ByteTrack) on the same model file and frames.

Back-ends (``--backends``; ``--openvino`` adds the OpenVINO rows): the whole path on ONNX
Runtime, and on the native OpenVINO runtime (``runtime: openvino``) at f32 and bf16, one row
each, every row with its network share and its speed-up over Ultralytics' track measured on
the same frames in the same turns.

Models: yolov8n@640 and yolo11n@320 (shared), yolov8n@320/480 (exported, ``models`` extra),
and static INT8 versions (quantised once into the cache). GPU: ``--providers cuda`` or
``--providers tensorrt`` (needs onnxruntime-gpu); ``--batch N`` adds batched multi-stream
inference on a dynamic-batch export.

Run (writes ``benchmarks/results/realtime_cpu.json`` and ``.png``)::

    .venv/bin/traffic-monitor bench --frames 150
    .venv/bin/traffic-monitor bench --frames 150 --openvino   # + OpenVINO f32 / bf16 rows
    .venv/bin/traffic-monitor bench --smoke            # a few frames, one model (CI)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.capacity import (
    CapacityConfig,
    backend_config,
    detector_for,
    search_capacity,
)
from benchmarks.detection_path import ModelCase, export_at, machine_info, summarise
from benchmarks.openvino_compare import compare as compare_openvino
from benchmarks.openvino_compare import letterboxed_blobs, openvino_version
from benchmarks.pipelined import run_pipelined, session_variants
from edge.detections import Detections
from edge.detector import Detector, DetectorConfig, OpenVinoYoloModel
from edge.detector.resolve import bundled_model
from edge.tracking import ByteTracker
from traffic_monitor.contract import encode
from traffic_monitor.errors import UserFacingError
from traffic_monitor.shared_data import REPO_ROOT, sample_video, shared_path

logger = logging.getLogger(__name__)

RESULTS_DIR = Path(__file__).parent / "results"
#: Ultralytics paths measured beside ours: reference name → prefix of its figures. ``onnx``
#: runs the same ONNX file (Ultralytics uses ONNX Runtime too, so the network call is the
#: same); ``pytorch`` runs the same weights as a ``.pt`` checkpoint with PyTorch, the path
#: most users write (``YOLO("yolov8n.pt").track(...)``).
REFERENCES = {"onnx": "ultralytics", "pytorch": "ultralytics_pytorch"}
SCENE = REPO_ROOT / "configs" / "vn_nga_ba_hue_overpass.yaml"
STAGES = (
    "decode",
    "preprocess",
    "inference",
    "postprocess",
    "tracking",
    "rules",
    "publish",
)
CAMERA_FPS = 25.0
"""Frame rate of a camera stream (every frame is decoded)."""
PROCESS_FPS = 10.0
"""Frames per second a city processes per camera."""
BLOCK = 10
"""Frames each path runs before the next path takes its turn on the same frames."""
WARMUP_FRAMES = 3
"""Frames run (and not timed) before timing starts."""
VN_MODEL = REPO_ROOT / "models" / "weights" / "vn-vehicles.onnx"
"""The project's Vietnamese model (trained at 416), compared when the file exists."""
Image = np.ndarray[Any, Any]
ALL_MODELS = (
    "yolov8n@640",
    "yolo11n@320",
    "yolov8n@320",
    "yolov8n@480",
    "yolov8n-int8@640",
    "yolo11n-int8@320",
    "yolov8n-dyn@640",
    "yolo11n-dyn@320",
    "vn-vehicles@416",
    "yolov8n-rect@640",
    "yolov8n-rect@480",
    "yolov8n-rect@320",
    "yolo11n-rect@320",
    "vn-vehicles-rect@416",
    "coco-yolov8n@640",
    "coco-yolov8n@960",
    "coco-yolov8n@1280",
)
"""Model labels ``name@size``. ``-int8``: static INT8 of the float model; ``-dyn``: dynamic
batch; ``coco-yolov8n``: the bundled dynamic-size model (the configs' default), fitted to
each frame at the given long side; ``-rect``: the input fitted to the bench video's frames
(``models export --frame-size``), e.g. 640 x 384 for the 854 x 480 overpass clip: the shape
Ultralytics' PyTorch path letterboxes the same frames to."""


@dataclass
class BenchConfig:
    """What one benchmark run measures.

    Attributes:
        models: Model labels (see :data:`ALL_MODELS`).
        frames: Frames per model (more is steadier, slower).
        providers: ONNX Runtime providers: cpu, cuda, tensorrt, openvino.
        batch: Streams batched per inference call (0: no batched measurement).
        ultralytics: Also run Ultralytics predict + track (needs the ``models`` extra).
        cache: Folder for exported and quantised models.
        video: The clip to run on.
        path: Time the per-frame path stage by stage (and the paths beside it).
        pipelined: Also run our path as a pipeline (pre-process, network and the rest
            overlapped in threads).
        session_variants: Also time ONNX Runtime session variants (no spinning, I/O binding).
        capacity: Search the sustained number of cameras (None: not measured); its
            ``backend`` chooses the detector back-end.
        openvino: Also compare OpenVINO with ONNX Runtime on the same ONNX files (network
            call alone).
        backends: Back-ends whose whole path is measured, one row each
            (:data:`benchmarks.capacity.BACKENDS`); OpenVINO rows are left out, with the
            reason in the report, when the package is absent.
    """

    models: Sequence[str] = ("yolov8n@640", "yolo11n@320")
    frames: int = 150
    providers: Sequence[str] = ("cpu",)
    batch: int = 0
    ultralytics: bool = True
    path: bool = True
    pipelined: bool = True
    session_variants: bool = False
    capacity: CapacityConfig | None = None
    openvino: bool = False
    backends: Sequence[str] = ("onnxruntime",)
    cache: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "tm-bench")
    video: Path = field(default_factory=lambda: sample_video(0))


def resolve_model(label: str, cache: Path, video: Path | None = None) -> ModelCase | None:
    """The model file of a label, exporting or quantising it into ``cache`` when needed.

    Args:
        label: One of :data:`ALL_MODELS`.
        cache: Folder for exported and quantised models.
        video: The clip whose frames a ``-rect`` model is fitted to (default: the overpass).

    Returns:
        None when it cannot be made here (the ``models`` extra is missing).

    Raises:
        UserFacingError: The label is unknown.
    """
    if label not in ALL_MODELS:
        raise UserFacingError(f"unknown model {label!r}; known: {', '.join(ALL_MODELS)}")
    name, _, size_text = label.partition("@")
    imgsz = int(size_text)
    base = name.removesuffix("-int8").removesuffix("-dyn").removesuffix("-rect")
    if name.endswith("-rect"):
        return _fitted_export(label, imgsz, cache, video or sample_video(0))
    if base == "vn-vehicles":
        return ModelCase(label, VN_MODEL, imgsz) if VN_MODEL.is_file() else None
    if base == "coco-yolov8n":
        return ModelCase(label, bundled_model(base), imgsz)
    if name.endswith("-dyn"):
        dynamic = _dynamic_export(shared_path("models", f"{base}.pt"), imgsz, cache)
        return None if dynamic is None else ModelCase(label, dynamic, imgsz)
    if base == "yolo11n" and imgsz == 320:
        float_path: Path | None = shared_path("models", "yolo11n_320.onnx")
    elif base == "yolov8n" and imgsz == 640:
        float_path = shared_path("models", "yolov8n.onnx")
    else:
        float_path = export_at(shared_path("models", f"{base}.pt"), imgsz, cache)
    if float_path is None or not float_path.is_file():
        return None
    if name.endswith("-int8"):
        float_path = _quantised(float_path, cache)
    return ModelCase(label, float_path, imgsz)


def _fitted_export(label: str, imgsz: int, cache: Path, video: Path) -> ModelCase | None:
    """The label's float weights exported with the input fitted to ``video``'s frames.

    None without the ``models`` extra or the checkpoint.
    """
    base = label.partition("@")[0].removesuffix("-rect")
    frame_size = video_frame_size(video)
    float_case = resolve_model(f"{base}@{imgsz}", cache)
    checkpoint = None if float_case is None else pytorch_checkpoint(float_case, cache)
    if checkpoint is None:
        return None
    try:
        import ultralytics  # noqa: F401
    except ImportError:
        return None
    from models.export import ExportOptions, export_onnx

    options = ExportOptions(imgsz=imgsz, frame_size=frame_size)
    height, width = options.input_size
    target = cache / f"{checkpoint.stem}_{width}x{height}.onnx"
    if not target.is_file():
        export_onnx(checkpoint, options, target)
    return ModelCase(label, target, imgsz, (height, width))


def video_frame_size(video: Path) -> tuple[int, int]:
    """A clip's frame ``(width, height)``.

    Raises:
        UserFacingError: The clip cannot be opened.
    """
    capture = cv2.VideoCapture(str(video))
    try:
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    if width <= 0 or height <= 0:
        raise UserFacingError(f"cannot read the frame size of {video}")
    return width, height


def _dynamic_export(checkpoint: Path, imgsz: int, cache: Path) -> Path | None:
    """A dynamic-batch export (for batched multi-stream inference), or None without the extra."""
    target = cache / f"{checkpoint.stem}_{imgsz}_dynamic.onnx"
    if target.is_file():
        return target
    try:
        import ultralytics  # noqa: F401
    except ImportError:
        return None
    from models.export import ExportOptions, export_onnx

    return export_onnx(checkpoint, ExportOptions(imgsz=imgsz, dynamic=True), target)


def _quantised(model: Path, cache: Path) -> Path:
    """The static INT8 (QDQ) version of ``model``, quantised once into ``cache``.

    Quantisation runs in a child process: its calibration (activation histograms of every
    layer) peaks at many GB, and in this process it would make ``peak_memory_mib`` the
    calibration's peak instead of the real-time path's.
    """
    target = cache / f"{model.stem}_int8_qdq.onnx"
    if not target.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "traffic_monitor.cli", "-q", "models", "quantize"]
        command += [str(model), "--out", str(target), "--frames", "64", "--method", "percentile"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not target.is_file():
            raise UserFacingError(f"quantising {model} failed: {done.stderr.strip()[-500:]}")
    return target


def decode(video: Path, count: int) -> tuple[list[Image], list[float]]:
    """Decode the first ``count`` frames, timing each decode."""
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise UserFacingError(f"cannot open video {video}")
    frames: list[Image] = []
    seconds: list[float] = []
    while len(frames) < count:
        start = time.perf_counter()
        ok, frame = capture.read()
        if not ok:
            break
        seconds.append(time.perf_counter() - start)
        frames.append(frame)
    capture.release()
    return frames, seconds


class _Analytics:
    """Tracking and rules of the overpass scene (tracking alone when the scene is missing)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.pipeline: Any = None
        self.tracker = ByteTracker(class_names=names)
        try:
            from edge.pipeline.analytics import CameraAnalytics
            from edge.scene.config import load_scene

            self.pipeline = CameraAnalytics(load_scene(SCENE), names)
        except (ImportError, OSError, UserFacingError) as exc:
            logger.warning("rules left out (%s); timing tracking only", exc)

    def track(self, detections: Detections, timestamp: float) -> Detections:
        if self.pipeline is None:
            return self.tracker.update(detections, timestamp).detections
        tracked: Detections = self.pipeline._track(detections, timestamp)
        return tracked

    def rules(self, tracked: Detections, index: int, timestamp: float) -> list[Any]:
        if self.pipeline is None:
            return []
        frame: Any = tracked  # the pipeline's TrackedFrame (see track); no image: nothing to enrich
        context = self.pipeline._context(
            frame, frame.detections, index=index, timestamp=timestamp, wall_time=None, image=None
        )
        events: list[Any] = self.pipeline._run_rules(context)
        return events


@dataclass
class OurTimes:
    """Our path on one back-end.

    Attributes:
        stages: Per-frame seconds of every stage but decode, sequential path.
        pipelined_s: Wall seconds over all frames of the pipelined path (0: not run).
        pipelined_network_s: Wall seconds of each network call of the pipelined path.
    """

    stages: dict[str, list[float]] = field(
        default_factory=lambda: {name: [] for name in STAGES[1:]}
    )
    pipelined_s: float = 0.0
    pipelined_network_s: list[float] = field(default_factory=list)


@dataclass
class PathTimes:
    """Seconds of every path over the same frames.

    Attributes:
        ours: Our path per back-end name.
        theirs: Per-frame seconds of each Ultralytics reference's track (see
            :data:`REFERENCES`), by reference name.
        theirs_inference: Ultralytics' own timing of its network call per frame, by reference.
    """

    ours: dict[str, OurTimes]
    theirs: dict[str, list[float]] = field(default_factory=dict)
    theirs_inference: dict[str, list[float]] = field(default_factory=dict)


def run_path(
    detectors: Mapping[str, Detector],
    frames: list[Image],
    fps: float,
    theirs: Mapping[str, Callable[[Image], object]] | None = None,
    *,
    pipelined: bool = True,
    block: int = BLOCK,
) -> PathTimes:
    """Run detection, tracking, rules and event encoding frame by frame, timing each stage.

    The paths take turns in blocks of ``block`` frames over the same frames: for each
    back-end (``detectors``, name → detector) ours sequentially, then ours pipelined (see
    :mod:`benchmarks.pipelined`); then Ultralytics' track (``theirs``). Each path keeps its
    own tracker, so every tracker sees consecutive frames (each Ultralytics reference in
    ``theirs``, name → track call, keeps its own too); turns make a change of machine
    load touch every path alike, and blocks (not single frames) keep one runtime's spinning
    threads from slowing the next.
    """
    states = {name: (_Analytics(d.names), _Analytics(d.names)) for name, d in detectors.items()}
    for detector in detectors.values():
        for frame in frames[:WARMUP_FRAMES]:  # runtimes allocate on the first runs
            detector.detect_one(frame)
    theirs = dict(theirs or {})
    times = PathTimes(ours={name: OurTimes() for name in detectors})
    for reference, track in theirs.items():
        track(frames[0])
        times.theirs[reference], times.theirs_inference[reference] = [], []
    for start in range(0, len(frames), block):
        indices = range(start, min(start + block, len(frames)))
        for name, detector in detectors.items():
            sequential, piped = states[name]
            ours = times.ours[name]
            for index in indices:
                _sequential_frame(
                    detector, sequential, frames[index], index, fps=fps, stages=ours.stages
                )
            if pipelined:
                ours.pipelined_s += _pipelined_block(
                    detector, piped, frames, indices, fps, ours.pipelined_network_s
                )
        for reference, track in theirs.items():
            for index in indices:
                began = time.perf_counter()
                results = track(frames[index])
                times.theirs[reference].append(time.perf_counter() - began)
                times.theirs_inference[reference].extend(_their_inference_s(results))
    return times


def _their_inference_s(results: object) -> list[float]:
    """Ultralytics' own timing of its network call (``Results.speed``, ms), in seconds."""
    speed = getattr(results[0], "speed", None) if isinstance(results, list) and results else None
    if isinstance(speed, dict) and isinstance(speed.get("inference"), float | int):
        return [float(speed["inference"]) / 1000.0]
    return []


def _sequential_frame(
    detector: Detector,
    analytics: _Analytics,
    frame: Image,
    index: int,
    *,
    fps: float,
    stages: dict[str, list[float]],
) -> None:
    timestamp = index / fps
    detections = detector.detect_one(frame)
    stages["preprocess"].append(detector.timings.preprocess)
    stages["inference"].append(detector.timings.inference)
    stages["postprocess"].append(detector.timings.postprocess)
    start = time.perf_counter()
    tracked = analytics.track(detections, timestamp)
    stages["tracking"].append(time.perf_counter() - start)
    start = time.perf_counter()
    events = analytics.rules(tracked, index, timestamp)
    stages["rules"].append(time.perf_counter() - start)
    start = time.perf_counter()
    for event in events:
        encode(event)
    stages["publish"].append(time.perf_counter() - start)


def _pipelined_block(  # noqa: PLR0917 (one block of the measurement loop's state)
    detector: Detector,
    analytics: _Analytics,
    frames: list[Image],
    indices: range,
    fps: float,
    network_s: list[float],
) -> float:
    def finish(position: int, detections: Detections) -> None:
        index = indices[position]
        tracked = analytics.track(detections, index / fps)
        for event in analytics.rules(tracked, index, index / fps):
            encode(event)

    return run_pipelined(detector, [frames[i] for i in indices], finish, network_s=network_s)


def batched_fps(detector: Detector, frames: list[Image], batch: int) -> float | None:
    """Aggregate frames per second of ``detect`` on ``batch`` streams at once."""
    if batch <= 1 or len(frames) < batch:
        return None
    groups = [frames[i : i + batch] for i in range(0, len(frames) - batch + 1, batch)]
    detector.detect(groups[0])
    start = time.perf_counter()
    for group in groups:
        detector.detect(group)
    return len(groups) * batch / (time.perf_counter() - start)


def ultralytics_track(
    case: ModelCase, device: str = "cpu", weights: Path | None = None
) -> Callable[[Image], object] | None:
    """Ultralytics ``track`` (predict + ByteTrack), or None without the ``models`` extra.

    Args:
        case: The model (its ONNX file is run unless ``weights`` is given).
        device: ``cpu`` or a CUDA device.
        weights: The same weights as an Ultralytics ``.pt`` checkpoint (run with PyTorch).
    """
    try:
        from ultralytics import YOLO
    except ImportError:
        return None
    model = YOLO(str(weights or case.path), task="detect")
    options: dict[str, Any] = {
        "conf": 0.25,
        "iou": 0.45,
        "imgsz": list(case.shape) if case.shape else case.imgsz,
        "device": device,
        "verbose": False,
        "persist": True,
        "tracker": "bytetrack.yaml",
    }
    return lambda frame: model.track(frame, **options)


def capacity(decode_s: float, process_s: float) -> int:
    """Cameras one box should sustain by the formula (an estimate; see :mod:`benchmarks.capacity`).

    Each camera decodes every frame and processes ``PROCESS_FPS``; nothing overlaps.
    """
    per_camera = CAMERA_FPS * decode_s + PROCESS_FPS * process_s
    return int(1.0 / per_camera) if per_camera > 0 else 0


def run_model(case: ModelCase, config: BenchConfig) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Benchmark one model on every back-end: stages, fps, network share, Ultralytics beside.

    Returns:
        One row per back-end measured, and the back-ends left out with the reason.
    """
    detectors, left_out = _detectors(case, config)
    rows = {name: _row(case, name, detector) for name, detector in detectors.items()}
    if config.path and detectors:
        for name, figures in _path_figures(case, detectors, config).items():
            rows[name].update(figures)
    onnxruntime = detectors.get("onnxruntime")
    if config.session_variants and onnxruntime is not None:
        blobs = letterboxed_blobs(config.video, min(config.frames, 40), case.input_hw)
        rows["onnxruntime"]["session_variants"] = session_variants(onnxruntime, blobs)
    if config.capacity is not None:
        _add_capacity(case, config, config.capacity, rows)
    for row in rows.values():
        row["peak_memory_mib_after_model"] = round(peak_memory_mib(), 1)
    return list(rows.values()), left_out


def _detectors(case: ModelCase, config: BenchConfig) -> tuple[dict[str, Detector], dict[str, str]]:
    """A detector per configured back-end; OpenVINO ones left out when it is not installed."""
    base = DetectorConfig(
        model=case.path, imgsz=case.imgsz, tensorrt_cache_dir=config.cache / "tensorrt"
    )
    detectors: dict[str, Detector] = {}
    left_out: dict[str, str] = {}
    for backend in config.backends:
        if backend.startswith("openvino") and openvino_version() is None:
            left_out[backend] = "the openvino package is not installed (pip install '.[openvino]')"
            logger.warning("%s left out: %s", backend, left_out[backend])
            continue
        detectors[backend] = Detector(backend_config(base, backend, config.providers))
    return detectors, left_out


def _row(case: ModelCase, backend: str, detector: Detector | None) -> dict[str, Any]:
    row: dict[str, Any] = {"model": case.label, "file": case.path.name, "backend": backend}
    if detector is not None:
        model = detector.model
        row["precision"] = model.precision if isinstance(model, OpenVinoYoloModel) else "f32"
    return row


def _add_capacity(
    case: ModelCase, config: BenchConfig, search: CapacityConfig, rows: dict[str, dict[str, Any]]
) -> None:
    scene = _scene()
    if scene is None:
        return
    live = detector_for(scene, case.path, config.providers, search.backend, case.imgsz)
    row = rows.setdefault(search.backend, _row(case, search.backend, live))
    row["capacity"] = search_capacity(live, scene, config.video, search)


def _scene() -> Any:
    try:
        from edge.scene.config import load_scene

        return load_scene(SCENE)
    except (ImportError, OSError, UserFacingError) as exc:
        logger.warning("capacity not measured: the scene cannot be loaded (%s)", exc)
        return None


def _path_figures(
    case: ModelCase, detectors: Mapping[str, Detector], config: BenchConfig
) -> dict[str, dict[str, Any]]:
    """Figures of our path per back-end, each beside the same Ultralytics measurement."""
    frames, decode_s = decode(config.video, config.frames)
    if not frames:
        raise UserFacingError(f"no frame decoded from {config.video}")
    times = run_path(
        detectors, frames, CAMERA_FPS, _references(case, config), pipelined=config.pipelined
    )
    figures: dict[str, dict[str, Any]] = {}
    for name, ours in times.ours.items():
        result = _our_figures(ours, decode_s, len(frames))
        fps = batched_fps(detectors[name], frames, config.batch)
        if fps is not None:
            result["batched"] = {"batch": config.batch, "detect_fps": round(fps, 2)}
        for reference, prefix in REFERENCES.items():
            if times.theirs.get(reference):
                result.update(_versus_ultralytics(times, reference, prefix, ours))
        figures[name] = result
    return figures


def _references(case: ModelCase, config: BenchConfig) -> dict[str, Callable[[Image], object]]:
    """The Ultralytics paths run beside ours (see :data:`REFERENCES`); none without the extra."""
    if not config.ultralytics:
        return {}
    device = "0" if set(config.providers) & {"cuda", "tensorrt"} else "cpu"
    references = {"onnx": ultralytics_track(case, device)}
    checkpoint = pytorch_checkpoint(case, config.cache)
    if checkpoint is not None:
        references["pytorch"] = ultralytics_track(case, device, weights=checkpoint)
    return {name: track for name, track in references.items() if track is not None}


def pytorch_checkpoint(case: ModelCase, cache: Path) -> Path | None:
    """The case's float weights as an Ultralytics ``.pt`` (None: INT8, or none to be had).

    The shared YOLOv8n / YOLO11n checkpoints hold the weights of the shared ONNX files;
    ``vn-vehicles`` is rebuilt from its ONNX file (:mod:`models.rebuild`); a ``-rect`` model
    has its float model's checkpoint.
    """
    name = case.label.partition("@")[0]
    if name.endswith("-int8"):
        return None
    base = name.removesuffix("-dyn").removesuffix("-rect")
    if name.endswith("-rect"):  # exported from the float model's checkpoint
        float_case = resolve_model(f"{base}@{case.imgsz}", cache)
        return None if float_case is None else pytorch_checkpoint(float_case, cache)
    if base == "vn-vehicles":
        digest = hashlib.sha256(case.path.read_bytes()).hexdigest()[:12]
        target = cache / f"vn-vehicles-{digest}.pt"  # rebuilt again when the model changes
        if not target.is_file():
            try:
                from models.rebuild import checkpoint_from_onnx

                checkpoint_from_onnx(case.path, target)
            except (ImportError, UserFacingError) as exc:
                logger.warning("no PyTorch reference for %s (%s)", case.label, exc)
                return None
        return target
    checkpoint = shared_path("models", f"{base}.pt")
    return checkpoint if checkpoint.is_file() else None


def _our_figures(ours: OurTimes, decode_s: list[float], frames: int) -> dict[str, Any]:
    stages = {"decode": decode_s, **ours.stages}
    totals = {name: float(np.sum(values)) for name, values in stages.items()}
    process = sum(v for k, v in totals.items() if k != "decode")
    result: dict[str, Any] = {
        "frames": frames,
        "stages": {name: summarise(values) for name, values in stages.items()},
        "end_to_end_fps": round(frames / (totals["decode"] + process), 2),
        "processing_fps_without_decode": round(frames / process, 2),
        "share_in_network": round(totals["inference"] / process, 4),
        "share_in_network_incl_decode": round(
            totals["inference"] / (process + totals["decode"]), 4
        ),
        "share_in_network_detect_track_only": round(
            totals["inference"] / (process - totals["rules"] - totals["publish"]), 4
        ),
        "capacity_estimate_streams": capacity(totals["decode"] / frames, process / frames),
    }
    if ours.pipelined_s:
        result["pipelined_fps_without_decode"] = round(frames / ours.pipelined_s, 2)
        # The network's own time (sequential path, no other work beside it) over the wall
        # time of the pipelined path (`edge run`'s analysis thread): the share of the frame
        # interval the network needs when the rest of the frame runs beside it.
        result["pipelined_share_in_network"] = round(totals["inference"] / ours.pipelined_s, 4)
        # The same turn's network calls, as long as they took beside the other stages.
        busy = float(np.sum(ours.pipelined_network_s)) / ours.pipelined_s
        result["pipelined_network_busy_share"] = round(busy, 4)
    return result


def _versus_ultralytics(
    times: PathTimes, reference: str, prefix: str, ours: OurTimes
) -> dict[str, Any]:
    """Ratios of one Ultralytics reference's track time to ours (above 1: ours is faster).

    Keys start with ``prefix`` (``ultralytics`` for the ONNX reference, ``ultralytics_pytorch``
    for the ``.pt`` one), e.g. ``speedup_vs_ultralytics_pytorch_track``.
    """
    theirs_s = times.theirs[reference]
    theirs = float(np.sum(theirs_s))
    totals = {name: float(np.sum(values)) for name, values in ours.stages.items()}
    process = sum(totals.values())
    result: dict[str, Any] = {
        f"{prefix}_track": summarise(theirs_s),
        f"{prefix}_track_fps": round(len(theirs_s) / theirs, 2),
        f"speedup_vs_{prefix}_track": round(theirs / process, 3),
        f"speedup_vs_{prefix}_track_detect_track_only": round(
            theirs / (process - totals["rules"] - totals["publish"]), 3
        ),
        f"ceiling_vs_{prefix}_track_network_only": round(theirs / totals["inference"], 3),
    }
    if times.theirs_inference.get(reference):
        their_network = times.theirs_inference[reference]
        result[f"{prefix}_inference"] = summarise(their_network)
        if len(their_network) == len(theirs_s):  # their own share, to set ours against
            result[f"{prefix}_share_in_network"] = round(float(np.sum(their_network)) / theirs, 4)
    if ours.pipelined_s:
        result[f"speedup_vs_{prefix}_track_pipelined"] = round(theirs / ours.pipelined_s, 3)
    return result


def interleaved_inference(cases: Sequence[ModelCase], config: BenchConfig) -> dict[str, Any]:
    """Network time of every model on the same frames, the models taking turns frame by frame.

    On a shared machine the load changes during a run; taking turns gives every model the
    same load, so their ratios hold even when the absolute milliseconds do not.
    """
    frames, _ = decode(config.video, min(config.frames, 40))
    detectors = {
        case.label: Detector(
            DetectorConfig(model=case.path, providers=list(config.providers))  # type: ignore[arg-type]
        )
        for case in cases
    }
    seconds: dict[str, list[float]] = {label: [] for label in detectors}
    for detector in detectors.values():
        detector.detect_one(frames[0])
    for index, frame in enumerate(frames):
        labels = list(detectors)
        shift = index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            detectors[label].detect_one(frame)
            seconds[label].append(detectors[label].timings.inference)
    return {label: summarise(values) for label, values in seconds.items()}


def peak_memory_mib() -> float:
    """Peak resident memory of this process in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(config: BenchConfig) -> dict[str, Any]:
    """Run every model and return the report (machine info, runs, peak memory)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config.cache / "ultralytics"))
    if not config.video.is_file():
        raise UserFacingError(f"video {config.video} is absent (set TRAFFIC_MONITOR_SHARED)")
    load_start = os.getloadavg()
    runs: list[dict[str, Any]] = []
    cases = []
    left_out: dict[str, str] = {}
    for label in config.models:
        case = resolve_model(label, config.cache, config.video)
        if case is None:
            logger.warning("%s left out: its file is absent and cannot be made here", label)
            continue
        logger.info("benchmarking %s on %s", label, config.providers)
        cases.append(case)
        rows, skipped = run_model(case, config)
        runs.extend(rows)
        left_out.update(skipped)
    report: dict[str, Any] = {
        "benchmark": "realtime",
        "video": config.video.name,
        "providers": list(config.providers),
        "camera_fps": CAMERA_FPS,
        "process_fps_per_camera": PROCESS_FPS,
        "machine": {**machine_info(), "gpu": gpu_info()},
        "load_average_at_start": load_start,
        "backends": list(config.backends),
        "runs": runs,
    }
    if left_out:
        report["backends_left_out"] = left_out
    if config.path and len(cases) > 1:
        report["interleaved_inference"] = interleaved_inference(cases, config)
    if config.openvino:
        report["openvino"] = compare_openvino(cases, config.video, min(config.frames, 60))
    report["load_average_at_end"] = os.getloadavg()
    report["peak_memory_mib"] = round(peak_memory_mib(), 1)
    return report


def gpu_info() -> str | None:
    """The GPU name from nvidia-smi, or None."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


def write_chart(report: dict[str, Any], path: Path) -> bool:
    """Stage latency per model beside Ultralytics' track, and the measured capacity.

    Left: stacked p50 stage latency per model (ours), Ultralytics' track beside it, and our
    pipelined path's time per frame as a marker. Right (when capacity was measured): the
    slowest camera's processed fps against the number of streams, per model, with the
    sustained count in the legend and every count that dropped frames crossed.

    Returns:
        False when matplotlib is not installed (no chart).
    """
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    with_path = [r for r in report["runs"] if "stages" in r]
    with_capacity = [r for r in report["runs"] if "capacity" in r]
    panels = int(bool(with_path)) + int(bool(with_capacity))
    if panels == 0:
        return False
    path_width = max(6.0, 0.4 * len(with_path))  # rows stay readable with many back-ends
    widths = ([path_width] if with_path else []) + ([6.0] if with_capacity else [])
    fig, axes = plt.subplots(
        1,
        panels,
        figsize=(sum(widths) + 1, 5.2),
        squeeze=False,
        gridspec_kw={"width_ratios": widths},
    )
    column = 0
    if with_path:
        _stage_panel(axes[0][column], with_path, report["providers"])
        column += 1
    if with_capacity:
        _capacity_panel(axes[0][column], with_capacity)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def _stage_panel(ax: Any, runs: list[dict[str, Any]], providers: Sequence[str]) -> None:
    backends = {r.get("backend", "onnxruntime") for r in runs}
    labels = [
        r["model"] if backends == {"onnxruntime"} else f"{r['model']} {_short(r['backend'])}"
        for r in runs
    ]
    bottom = np.zeros(len(runs))
    for stage in STAGES:
        values = np.array([r["stages"][stage]["p50_ms"] for r in runs])
        ax.bar(labels, values, bottom=bottom, label=stage, width=0.4, align="edge")
        bottom += values
    theirs = [r.get("ultralytics_track", {}).get("p50_ms", 0.0) for r in runs]
    ax.bar(labels, theirs, width=-0.4, align="edge", color="grey", label="Ultralytics track")
    key = "pipelined_fps_without_decode"
    piped = [(i + 0.2, 1000.0 / r[key]) for i, r in enumerate(runs) if r.get(key)]
    if piped:
        xs, ys = zip(*piped, strict=True)
        ax.scatter(xs, ys, marker="_", s=400, color="black", label="ours, pipelined (mean)")
    ax.set_ylabel("ms per frame (p50)")
    ax.set_title(f"Per-frame path ({', '.join(providers)})")
    ax.tick_params(axis="x", labelsize=7, labelrotation=60)
    for tick in ax.get_xticklabels():
        tick.set_horizontalalignment("right")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def _short(backend: str) -> str:
    """``ORT`` or ``OV <precision>``: a back-end in a chart label."""
    return "ORT" if backend == "onnxruntime" else "OV " + backend.removeprefix("openvino-")


def _capacity_panel(ax: Any, runs: list[dict[str, Any]]) -> None:
    for r in runs:
        steps = r["capacity"]["runs"]
        streams = [s["streams"] for s in steps]
        rates = [s["processed_fps_per_camera_min"] for s in steps]
        label = f"{r['model']}: {r['capacity']['sustained_streams']} sustained"
        (line,) = ax.plot(streams, rates, marker="o", label=label)
        failed = [
            (s["streams"], s["processed_fps_per_camera_min"]) for s in steps if s["frames_dropped"]
        ]
        if failed:
            xs, ys = zip(*failed, strict=True)
            ax.scatter(xs, ys, marker="x", s=80, color=line.get_color())
    ax.axhline(PROCESS_FPS, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("concurrent 25 fps cameras (x: frames dropped)")
    ax.set_ylabel("processed fps, slowest camera")
    ax.set_title("Sustained capacity (edge pipeline, measured)")
    ax.set_ylim(bottom=0)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)


def save(report: dict[str, Any], out: Path) -> Path | None:
    """Write the JSON report and its PNG chart beside it; returns the chart path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    chart = out.with_suffix(".png")
    return chart if report["runs"] and write_chart(report, chart) else None
