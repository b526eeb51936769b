"""The ``traffic-monitor detect`` sub-command."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.detect_run import DetectRun, DetectSummary
from edge.detector import Detector, DetectorConfig
from edge.ingest import SourceConfig
from traffic_monitor.errors import UserFacingError, first_field_error
from traffic_monitor.shared_data import sample_video

logger = logging.getLogger(__name__)


def add_detect_parser(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``detect SOURCE`` to the parser."""
    parser = subparsers.add_parser(
        "detect",
        help="detect road users in a video file or stream",
        description=(
            "Run the detector on a file, stream URL or device; write an annotated video and "
            "one JSON line per frame; print a summary."
        ),
    )
    parser.add_argument("source", help="video file, rtsp/rtmp/http(s) URL, or device index")
    parser.add_argument("--model", type=Path, help="ONNX model (default: $TRAFFIC_MONITOR_MODEL "
                        "or ../shared/models/yolov8n.onnx); a .pt is exported first")  # fmt: skip
    parser.add_argument("--out", type=Path, help="annotated video to write (.mp4)")
    parser.add_argument("--jsonl", type=Path, help="JSON lines to write, one per frame")
    parser.add_argument("--conf", type=float, default=0.25, help="minimum score (0.25)")
    parser.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold (0.45)")
    parser.add_argument(
        "--classes",
        help="comma-separated class names to keep, e.g. car,motorcycle; 'all' for every class "
        "(default: the road users the model has: person, bicycle, car, motorcycle, bus, truck)",
    )
    parser.add_argument(
        "--imgsz",
        type=int,
        default=None,
        help="input long side for a dynamic-size model, e.g. 960 (default: the model's)",
    )
    parser.add_argument("--min-size", type=float, default=0.0, help="minimum box side in pixels")
    parser.add_argument("--max-fps", type=float, help="process at most this many frames per second")
    parser.add_argument("--roi", help="region of interest x,y,w,h in native pixels")
    parser.add_argument("--realtime", action="store_true", help="pace a file at its native fps")
    parser.add_argument("--providers", default="cpu", help="cpu, cuda, tensorrt, openvino (cpu)")
    parser.add_argument(
        "--runtime",
        choices=("onnxruntime", "openvino", "torch"),
        default="onnxruntime",
        help="network runtime (onnxruntime); openvino needs the openvino extra, torch the "
        "torch extra",
    )
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or cuda:N for --runtime torch (cpu)"
    )
    parser.add_argument("--threads", type=int, default=0, help="inference threads (0: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_detect)


def run_detect(args: argparse.Namespace) -> int:
    """Handle ``detect``: returns 0, or 2 when the source failed part-way."""
    detector_config, source_config = _configs(args)
    detector = Detector(detector_config)
    run = DetectRun(source_config, detector, args.out, args.jsonl, progress=not args.no_progress)
    summary = run.run()
    print_summary(summary, args.out, args.jsonl)
    if summary.error is not None:
        raise UserFacingError(summary.error)
    return 0


def run_detect_demo() -> int:
    """Run ``detect`` on the shared sample video, writing ``out/``."""
    video = sample_video(0)
    if not video.is_file():
        raise UserFacingError(
            f"sample video {video} is absent: set TRAFFIC_MONITOR_SHARED to the shared folder"
        )
    args = build_detect_args(
        [str(video), "--out", "out/demo_annotated.mp4", "--jsonl", "out/demo_detections.jsonl"]
    )
    return run_detect(args)


def build_detect_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``detect`` arguments (for callers that build the command in code)."""
    parser = argparse.ArgumentParser()
    add_detect_parser(parser.add_subparsers())
    return parser.parse_args(["detect", *argv])


def print_summary(summary: DetectSummary, video: Path | None, jsonl: Path | None) -> None:
    """Print the run summary as readable lines."""
    print(f"frames:          {summary.frames}")
    print(f"mean fps:        {summary.mean_fps:.1f}")
    print(f"dropped frames:  {summary.dropped_frames}")
    if summary.skipped_frames:
        print(f"skipped (fps limit): {summary.skipped_frames}")
    print("detections per class: " + json.dumps(dict(summary.detections_per_class.most_common())))
    for label, path in (("annotated video", video), ("detections", jsonl)):
        if path is not None:
            print(f"{label + ':':16} {path}")


def _configs(args: argparse.Namespace) -> tuple[DetectorConfig, SourceConfig]:
    try:
        detector = DetectorConfig(
            model=args.model,
            confidence=args.conf,
            iou=args.iou,
            classes=_split(args.classes),
            min_box_size=args.min_size,
            imgsz=args.imgsz,
            providers=_split(args.providers) or ["cpu"],
            runtime=args.runtime,
            device=args.device,
            intra_op_threads=args.threads,
        )
        source = SourceConfig(
            uri=args.source,
            realtime=args.realtime,
            max_fps=args.max_fps,
            roi=_roi(args.roi),
            max_open_attempts=3,
        )
    except ValidationError as exc:
        raise UserFacingError(f"invalid option {first_field_error(exc)}") from exc
    return detector, source


def _split(value: str | None) -> list[str] | None:
    if not value:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def _roi(value: str | None) -> tuple[int, int, int, int] | None:
    parts = _split(value)
    if parts is None:
        return None
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        raise UserFacingError(f"--roi must be x,y,w,h in pixels, got {value!r}")
    x, y, w, h = (int(p) for p in parts)
    return x, y, w, h
