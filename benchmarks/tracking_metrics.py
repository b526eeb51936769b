"""Tracking quality against hand-checked track truth: MOTA, IDF1 and identity switches.

The truth (``tests/analytics/truth/tracks/``, how it was made in its README) gives every road
user's box and identity over a window of frames of the overpass and intersection clips. Here
the scene's own detector (the ``detector`` section of its config) finds the boxes, the
scene's tracker (``tracker.type`` and settings, with the rider merge and duplicate
suppression the analytics run first) gives the ids, and py-motmetrics scores the confirmed
tracks against the truth (class-agnostic, a match needs IoU >= 0.5).

The detections of each window are kept next to the truth (``<clip>.detections.npz``), so
the gate in ``tests/analytics/test_tracking_metrics.py`` scores tracker changes in seconds;
``--detect`` runs the detector again and rewrites them (the test checks they still match
what the model finds). Run (writes ``benchmarks/results/tracking_metrics.json``)::

    python -m benchmarks.tracking_metrics [--clips overpass intersection] [--detect]
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.analytics_counting import CLIPS
from benchmarks.tracking_truth import (
    TRUTH_DIR,
    WINDOWS,
    TruthBox,
    Window,
    read_boxes,
    read_frames,
    truth_path,
    video_path,
)
from edge.detections import NO_TRACK, Detections
from edge.ingest import FrameRateLimiter
from edge.scene import SceneConfig, load_scene
from edge.tracking import buffered_iou, build_tracker
from edge.tracking.prefilter import one_box_per_road_user

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).parent / "results" / "tracking_metrics.json"
MATCH_IOU = 0.5
"""A tracked box matches a truth box at IoU >= this (the MOT Challenge's threshold)."""
FPS = 30.0
METRICS = (
    "mota",
    "idf1",
    "num_switches",
    "num_false_positives",
    "num_misses",
    "num_objects",
    "num_unique_objects",
    "mostly_tracked",
    "num_fragmentations",
    "precision",
    "recall",
)


def detections_path(clip: str) -> Path:
    """The scene detector's detections over a clip's window (kept next to the truth)."""
    return TRUTH_DIR / f"{clip}.detections.npz"


def detect_window(scene: SceneConfig, window: Window) -> tuple[list[Detections], tuple[str, ...]]:
    """The scene's detector on every frame of the window, and its class names."""
    from edge.detector import Detector

    detector = Detector(scene.detector)
    found = [
        detector.detect_one(image)
        for _, image in read_frames(video_path(window.clip), window.frames)
    ]
    return found, tuple(detector.names)


def save_detections(path: Path, frames: Sequence[Detections], names: Sequence[str]) -> None:
    """Keep one window's detections as one compressed array file."""
    np.savez_compressed(
        path,
        frame=np.concatenate([np.full(len(d), i, np.int32) for i, d in enumerate(frames)]),
        xyxy=np.concatenate([d.xyxy for d in frames]).reshape(-1, 4),
        confidence=np.concatenate([d.confidence for d in frames]),
        class_id=np.concatenate([d.class_id for d in frames]),
        names=np.array(names),
        count=np.array(len(frames)),
    )


def load_detections(path: Path) -> tuple[list[Detections], tuple[str, ...]]:
    """The detections :func:`save_detections` kept, one :class:`Detections` per frame."""
    with np.load(path) as kept:
        frame = kept["frame"]
        frames = [
            Detections(
                kept["xyxy"][frame == i],
                kept["confidence"][frame == i],
                kept["class_id"][frame == i],
            )
            for i in range(int(kept["count"]))
        ]
        return frames, tuple(str(n) for n in kept["names"])


def processed_frames(scene: SceneConfig, window: Window, every_frame: bool = False) -> list[int]:
    """The window's frames the scene's camera processes (``source.max_fps``), or all of them."""
    rate = FrameRateLimiter(None if every_frame else scene.source.max_fps)
    return [index for index in window.frames if rate.keep(index / FPS)]


def track_window(
    scene: SceneConfig,
    window: Window,
    frames: Sequence[Detections],
    names: Sequence[str],
    every_frame: bool = False,
) -> list[TruthBox]:
    """The scene's tracker over the window's detections: its confirmed boxes, as truth rows.

    Only the frames the camera processes are tracked (:func:`processed_frames`).
    """
    tracker = build_tracker(scene.tracker, names, [(line.start, line.end) for line in scene.lines])
    kept = set(processed_frames(scene, window, every_frame))
    boxes: list[TruthBox] = []
    for offset, found in enumerate(frames):
        index = window.first + offset
        if index not in kept:
            continue
        fed = one_box_per_road_user(found, scene.tracker, names)
        tracked = tracker.update(fed, index / FPS).detections
        boxes.extend(
            TruthBox(index, int(tracked.tracker_id[row]), _box(tracked.xyxy[row]), "")
            for row in range(len(tracked))
            if tracked.tracker_id[row] != NO_TRACK
        )
    return boxes


def _box(values: Iterable[float]) -> tuple[float, float, float, float]:
    x1, y1, x2, y2 = (float(v) for v in values)
    return x1, y1, x2, y2


def score(
    truth: Sequence[TruthBox],
    tracked: Sequence[TruthBox],
    window: Window,
    frames: Sequence[int] | None = None,
) -> dict[str, float]:
    """CLEAR MOT and identity metrics of ``tracked`` against ``truth`` (py-motmetrics).

    Only the boxes in the window's scored region count, on both sides, on ``frames`` (the
    frames tracked; default every frame of the window).

    Returns:
        ``mota``, ``idf1``, ``num_switches`` and the counts behind them (:data:`METRICS`).
    """
    import motmetrics as mm

    accumulator = mm.MOTAccumulator(auto_id=False)
    truth_by_frame = _per_frame(window.scored(truth))
    tracked_by_frame = _per_frame(window.scored(tracked))
    for index in window.frames if frames is None else frames:
        gt = truth_by_frame.get(index, [])
        hyp = tracked_by_frame.get(index, [])
        accumulator.update(
            [b.track_id for b in gt], [b.track_id for b in hyp], _distances(gt, hyp), frameid=index
        )
    summary = mm.metrics.create().compute(accumulator, metrics=list(METRICS), name="clip")
    return {name: float(summary[name].iloc[0]) for name in METRICS}


def _per_frame(boxes: Sequence[TruthBox]) -> dict[int, list[TruthBox]]:
    result: dict[int, list[TruthBox]] = {}
    for b in boxes:
        result.setdefault(b.frame, []).append(b)
    return result


def _distances(truth: Sequence[TruthBox], tracked: Sequence[TruthBox]) -> np.ndarray[Any, Any]:
    """``1 - IoU`` of every truth box with every tracked box; NaN (no match) below MATCH_IOU.

    Computed here, not with ``motmetrics.distances.iou_matrix``: motmetrics 1.4.0 calls
    ``np.asfarray``, gone in NumPy 2.
    """
    iou = buffered_iou(_xyxy(truth), _xyxy(tracked), 0.0)
    distance: np.ndarray[Any, Any] = np.where(iou >= MATCH_IOU, 1.0 - iou, np.nan)
    return distance


def _xyxy(boxes: Sequence[TruthBox]) -> np.ndarray[Any, Any]:
    return np.array([b.box for b in boxes], dtype=np.float64).reshape(-1, 4)


def evaluate_clip(clip: str, *, detect: bool = False, every_frame: bool = False) -> dict[str, Any]:
    """Score the scene's tracker on one clip's window (kept detections unless ``detect``).

    The frames are those the scene's camera processes (``source.max_fps``), unless
    ``every_frame``.
    """
    scene = load_scene(CLIPS[clip].config)
    window = WINDOWS[clip]
    path = detections_path(clip)
    if detect or not path.exists():
        frames, names = detect_window(scene, window)
        save_detections(path, frames, names)
    frames, names = load_detections(path)
    truth = read_boxes(truth_path(clip))
    tracked = track_window(scene, window, frames, names, every_frame)
    scored = processed_frames(scene, window, every_frame)
    result: dict[str, Any] = {
        "processed_fps": None if every_frame else scene.source.max_fps,
        "frames_scored": len(scored),
        "window": [window.first, window.first + window.count - 1],
        "scored_below_y": window.min_bottom,
        "truth_tracks": len({b.track_id for b in truth}),
        "truth_boxes": len(truth),
        "detector": {"model": str(scene.detector.model), "imgsz": scene.detector.imgsz},
        "tracker": scene.tracker.type,
    }
    result.update(score(truth, tracked, window, scored))
    return result


def main(argv: list[str] | None = None) -> int:
    """Score each clip and merge the figures into the results JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="+", choices=sorted(WINDOWS), default=sorted(WINDOWS))
    parser.add_argument("--detect", action="store_true", help="run the detector again")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--every-frame",
        action="store_true",
        help="track every frame of the windows, not only those the scene's max_fps keeps",
    )
    parser.add_argument(
        "--label", default=None, help="store under CLIP@LABEL (default: the clip's name)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for clip in args.clips:
        key = f"{clip}@{args.label}" if args.label else clip
        results[key] = evaluate_clip(clip, detect=args.detect, every_frame=args.every_frame)
        logger.info("%s: %s", key, json.dumps(results[key]))
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
