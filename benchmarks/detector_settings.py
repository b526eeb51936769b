r"""What each per-camera detector setting costs and gains: the cost table of issue 23.

For every setting (input long side, optional far-field tiles) of the bundled dynamic-size
COCO model this measures, on the shared clips and on this CPU:

* milliseconds per frame of the detector (letterbox, network, decoding), median over frames
  of the clip, on ONNX Runtime and on OpenVINO (f32, and bf16 where the CPU has it), with
  the process CPU time per frame and the cameras per box that leaves at 10 fps
  (``cores × 1000 / (10 × CPU ms)``; the measured figure through ``edge run`` is
  ``traffic-monitor bench --capacity``);
* counting accuracy on the clips (``--count``): the clip replayed through the scene's
  tracker and rules with the setting, at the scene's ``source.max_fps`` (10 fps in the
  shipped configs since 2026-12-07; earlier records processed every frame), counts per line
  and direction against the hand counts of :mod:`benchmarks.analytics_counting`;
* accuracy on unseen cameras, read from ``models loso`` reports (``--loso``, one per
  setting, see :mod:`models.crossval`): motorcycle and car AP50, and AP50 on small ones.

Run (minutes per setting on a 2-core CPU; ``--count`` replays whole clips)::

    python -m benchmarks.detector_settings --settings 640 960 1280 960+tiles \
        --loso benchmarks/results/loso_*.json --count \
        --out benchmarks/results/detector_settings.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.analytics_counting import CLIPS, counting_errors
from edge.detector import Detector, DetectorConfig
from edge.detector.resolve import bundled_model
from edge.detector.tiling import TilingConfig
from edge.pipeline.analytics import CameraAnalytics
from edge.pipeline.replay import line_counts, replay
from edge.scene import load_scene
from models.loso import machine
from traffic_monitor.shared_data import shared_path

logger = logging.getLogger(__name__)

MODEL = "coco-yolov8n"
TIMED_FRAMES = 20
FAR_FIELD = {"overpass": (0, 150, 854, 200), "intersection": (0, 40, 640, 200)}
"""The far-field band tiled by ``+tiles`` settings, per clip (frame pixels)."""


def detector_config(
    setting: str, clip: str, runtime: str = "onnxruntime", model: str = MODEL
) -> DetectorConfig:
    """The scene's detector with a setting ``SIZE`` or ``SIZE+tiles`` (2 tiles, far field).

    ``model`` is a bundled model's name or an ONNX file (e.g. a static INT8 export of it).
    """
    scene = load_scene(CLIPS[clip].config)
    size, _, tiles = setting.partition("+")
    path = Path(model) if Path(model).is_file() else bundled_model(model)
    update: dict[str, Any] = {"model": path, "imgsz": int(size)}
    if tiles:
        update["tiles"] = TilingConfig(region=FAR_FIELD[clip], grid=(2, 1), imgsz=int(size))
    if runtime != "onnxruntime":
        update.update(runtime="openvino", openvino_precision=runtime.removeprefix("openvino-"))
    return scene.detector.model_copy(update=update)


def clip_frames(clip: str, count: int) -> list[np.ndarray[Any, Any]]:
    """``count`` frames spread over the clip."""
    capture = cv2.VideoCapture(str(shared_path(*CLIPS[clip].video)))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for index in np.linspace(0, total - 1, count).astype(int):
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(index))
        ok, frame = capture.read()
        if ok:
            frames.append(frame)
    capture.release()
    return frames


def time_setting(config: DetectorConfig, frames: list[np.ndarray[Any, Any]]) -> dict[str, Any]:
    """Milliseconds per frame of the detector (after two warm-up frames).

    ``ms_per_frame`` is the median wall time; ``cpu_ms_per_frame`` the process CPU time per
    frame (all threads), which other load on a shared machine disturbs much less. Cameras
    at 10 fps are estimated from the CPU time and the cores: ``cores × 1000 / (10 × cpu_ms)``.
    """
    detector = Detector(config)
    for frame in frames[:2]:
        detector.detect_one(frame)
    spent = []
    cpu_start = time.process_time()
    for frame in frames:
        start = time.perf_counter()
        detector.detect_one(frame)
        spent.append(1000 * (time.perf_counter() - start))
    cpu_ms = 1000 * (time.process_time() - cpu_start) / len(frames)
    ms = statistics.median(spent)
    return {
        "ms_per_frame": round(ms, 1),
        "cpu_ms_per_frame": round(cpu_ms, 1),
        "cameras_at_10fps_estimate": round((os.cpu_count() or 1) * 1000 / (10 * cpu_ms), 2),
        "input": list(detector.input_size_for(frames[0])),
        "precision": str(getattr(detector.model, "precision", "f32")),
    }


def count_setting(config: DetectorConfig, clip: str) -> dict[str, Any]:
    """Replay the clip with the setting through the scene's tracker and rules."""
    scene = load_scene(CLIPS[clip].config)
    detector = Detector(config)
    analytics = CameraAnalytics(scene.model_copy(update={"detector": config}), detector.names)
    replay(shared_path(*CLIPS[clip].video), analytics, detector)
    counted = line_counts(analytics)
    return {"counted": counted, **counting_errors(counted, CLIPS[clip].truth)}


def loso_figures(report_path: Path) -> dict[str, Any]:
    """Motorcycle and car AP50 (all and small) on unseen cameras, pooled and per type."""
    report = json.loads(report_path.read_text())
    result = {}
    for name, figures in [("pooled", report["pooled"]), *report["types"].items()]:
        classes = figures["classes"]
        result[name] = {
            f"{c}_{k}": classes[c].get(k) for c in ("motorcycle", "car") if c in classes
            for k in ("ap50", "small_ap50")
        }  # fmt: skip
    return {"report": str(report_path), "settings": report["settings"], **result}


def main(argv: list[str] | None = None) -> int:
    """Measure the settings and write the table's JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--settings", nargs="+", default=["640", "960", "1280", "960+tiles"])
    parser.add_argument("--clips", nargs="+", default=["overpass"], choices=list(CLIPS))
    parser.add_argument(
        "--runtimes", nargs="+", default=["onnxruntime", "openvino-f32"], help="back-ends timed"
    )
    parser.add_argument("--count", action="store_true", help="replay the clips and count")
    parser.add_argument(
        "--model", default=MODEL, help="bundled model name or ONNX file (default coco-yolov8n)"
    )
    parser.add_argument("--loso", nargs="*", type=Path, default=[], help="models loso reports")
    parser.add_argument("--out", type=Path, default=Path("/tmp/detector_settings.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    report: dict[str, Any] = {
        "machine": machine(),
        "model": args.model,
        "load_average_start": os.getloadavg(),
    }
    rows: dict[str, Any] = {}
    for clip in args.clips:
        frames = clip_frames(clip, TIMED_FRAMES)
        for setting in args.settings:
            row = rows.setdefault(f"{clip} {setting}", {"clip": clip, "setting": setting})
            for runtime in args.runtimes:
                config = detector_config(setting, clip, runtime, args.model)
                row[runtime] = time_setting(config, frames)
                logger.info("%s %s %s: %s", clip, setting, runtime, row[runtime])
            if args.count:
                row["counting"] = count_setting(
                    detector_config(setting, clip, model=args.model), clip
                )
                logger.info("%s %s counting: %s", clip, setting, row["counting"])
    report["rows"] = rows
    report["loso"] = [loso_figures(path) for path in args.loso]
    report["load_average_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
